// The open cluster: its facts, its most and least confident members, the label box with the suggestion
// beside it, and the actions (save, discard, flag, undo). Every change sends the version the page saw;
// a 409 means another radiologist changed the cluster first: the page says so and reloads it.

import { api, ApiError, listOf } from "./api.js";
import { lazyImage, releaseImages } from "./images.js";
import { clearError, reportError, showError, showNotice } from "./messages.js";
import { clusterName, formatConfidence, state, statusOf, suggestionOf } from "./state.js";

const $ = (id) => document.getElementById(id);
const MOST_SHOWN = 16; // two rows: what the cluster is
const LEAST_SHOWN = 8; // one row: what does not belong
let afterChange = async () => {};

/** `handler(cluster)` runs after every change the server accepted (grid, progress and hash follow). */
export function whenClusterChanged(handler) {
  afterChange = handler;
}

export async function openCluster(number, { focusLabel = true } = {}) {
  try {
    const [detail, most, least] = await Promise.all([
      api.cluster(state.runId, number),
      api.members(state.runId, number, "most", MOST_SHOWN),
      api.members(state.runId, number, "least", LEAST_SHOWN),
    ]);
    state.current = detail;
    renderCluster(detail);
    renderMembers("members-most", listOf(most, "members").items, "most");
    renderMembers("members-least", listOf(least, "members").items, "least");
    $("members-total").textContent = `(${listOf(most, "members").total} in all: v opens the viewer)`;
    if (focusLabel) $("label-input").select(); // focus, with the old name selected: typing replaces it
  } catch (err) {
    reportError(err, `Opening cluster ${number}`);
  }
}

export function renderCluster(c) {
  const status = statusOf(c);
  $("cluster-title").textContent = clusterName(c);
  const facts = [`${c.size} ${c.size === 1 ? "image" : "images"}`, `mean confidence ${formatConfidence(c.mean_confidence)}`];
  if (status === "labeled") facts.push(`named “${c.label}”`);
  if (status === "discarded") facts.push(`discarded${c.discard_reason ? ` (${c.discard_reason})` : ""}`);
  if (status === "unlabeled") facts.push("not named yet");
  if (status === "split") facts.push("split into parts: name them (u undoes the split)");
  if (c.parent !== null && c.parent !== undefined) facts.push(`part of cluster ${c.parent}`);
  if (c.split_proposed) facts.push("looks mixed: s splits it");
  if (c.flagged) facts.push("flagged for a second look");
  $("cluster-facts").textContent = facts.join(" · ");
  $("cluster-view").dataset.status = status;

  const input = $("label-input");
  input.disabled = Boolean(c.split); // a split cluster is decided by its parts
  $("save-button").disabled = Boolean(c.split);
  $("split-button").disabled = Boolean(c.split || c.discarded || c.size < 4);
  input.value = c.label || "";
  $("flag-button").setAttribute("aria-pressed", String(Boolean(c.flagged)));
  $("flag-button").firstChild.textContent = c.flagged ? "Unflag " : "Flag ";
  $("discard-button").disabled = Boolean(c.discarded);

  // The suggestion and its agreement stay in view once taken: a name is only as good as its share.
  const suggestion = suggestionOf(c);
  const taken = Boolean(suggestion && suggestion.label === c.label);
  $("suggestion").hidden = !suggestion;
  $("suggestion").classList.toggle("low-agreement", Boolean(suggestion && suggestion.below));
  $("suggestion-prefix").textContent = taken ? "Named after the suggestion:" : "Suggestion:";
  $("suggestion-label").textContent = suggestion ? suggestion.label : "";
  $("suggestion-why").textContent = suggestion ? suggestion.why : "";
  $("suggestion-warning").hidden = !(suggestion && suggestion.below);
  $("suggestion-accept").hidden = taken;
}

let onOpenMember = () => {};

/** `handler(imageId, order)` runs when a member is clicked or Enter is pressed on it. */
export function whenMemberOpened(handler) {
  onOpenMember = handler;
}

function renderMembers(listId, members, order) {
  const list = $(listId);
  releaseImages(list);
  list.replaceChildren(
    ...members.map((m) => {
      const item = document.createElement("li");
      const shortId = String(m.image_id).slice(0, 8);
      const img = lazyImage(m.thumbnail_url, `Radiograph ${shortId}, confidence ${formatConfidence(m.confidence)}`);
      const caption = document.createElement("span");
      caption.textContent = formatConfidence(m.confidence);
      caption.setAttribute("aria-hidden", "true");
      // A button: click or Enter opens it in the viewer, at full size, with the rest of the cluster.
      const open = document.createElement("button");
      open.type = "button";
      open.className = "member";
      open.setAttribute("aria-label", `Open radiograph ${shortId} in the viewer`);
      open.addEventListener("click", () => onOpenMember(m.image_id, order));
      open.append(img, caption);
      item.append(open);
      return item;
    }),
  );
  if (!members.length) list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "none" }));
}

/** Puts the suggestion into the label box (it is saved only when the radiologist presses Enter). */
export function acceptSuggestion() {
  const suggestion = suggestionOf(state.current);
  if (!suggestion || $("suggestion").hidden) return false;
  const input = $("label-input");
  if (input.value.trim() === suggestion.label) return false; // already taken: let Tab move on
  input.value = suggestion.label;
  input.focus();
  showNotice(
    suggestion.below
      ? `Suggestion “${suggestion.label}” is in the label box, but few of the cluster's known radiographs agree: check its members; Enter twice names it anyway.`
      : `Suggestion “${suggestion.label}” is in the label box: Enter saves it.`,
  );
  return true;
}

// A name with low agreement is saved only on a second Enter for the same cluster, version and name.
let confirmedLowAgreement = null;

// -- changes ------------------------------------------------------------------------------------------

// One change at a time, in the order the radiologist asked for them: each waits for the one before it
// (its server call, the re-render and the grid/progress update), then sends the version that one left.
// A key pressed while the previous change is still on its way (u right after a discard) is queued, never
// dropped. A queued change applies only to the cluster it was asked for: if the page moved on meanwhile,
// it is not sent to the cluster now open.
let queue = Promise.resolve();

export function change(doing, call) {
  const asked = state.current?.cluster;
  if (asked === undefined) return Promise.resolve(null);
  const result = queue.then(() => applyChange(doing, call, asked));
  queue = result.catch(() => null); // a failed change was reported; the next one still runs
  return result;
}

async function applyChange(doing, call, asked) {
  const c = state.current;
  if (!c || c.cluster !== asked) {
    showNotice(`${doing} cluster ${asked} was not sent: another cluster is open now.`);
    return null;
  }
  try {
    const fresh = await call(c); // the cluster as the server now has it, with its new version
    clearError();
    state.current = fresh;
    renderCluster(fresh);
    await afterChange(fresh);
    return fresh;
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      await openCluster(c.cluster, { focusLabel: false });
      // 409 also means "nothing left to undo": only a newer version is someone else's change.
      const movedOn = state.current && state.current.version !== c.version;
      showError(
        movedOn
          ? `${clusterName(c)} was changed by someone else: reloaded. Check it and try again.`
          : `${doing} ${clusterName(c)}: ${err.message}`,
      );
      if (movedOn) await afterChange(state.current);
      return null;
    }
    reportError(err, `${doing} ${clusterName(c)}`);
    return null;
  }
}

/** Saves the label box. Returns true when the cluster now carries that name. */
export async function saveLabel() {
  const c = state.current;
  const label = $("label-input").value.trim().replace(/\s+/g, " ");
  if (!c) return false;
  if (!label) {
    showError("Type a name first (or press Esc, then d to discard the cluster).");
    return false;
  }
  if (label === c.label && !c.discarded) return true; // nothing to change: just move on
  const suggestion = suggestionOf(c);
  if (suggestion && suggestion.below && label === suggestion.label) {
    const asked = `${c.cluster}:${c.version}:${label}`;
    if (confirmedLowAgreement !== asked) {
      confirmedLowAgreement = asked;
      const share = suggestion.share === null ? "few" : `only ${Math.round(suggestion.share * 100)} %`;
      showError(
        `${share} of ${clusterName(c)}'s known radiographs agree with “${label}”: it is likely mixed. ` +
          "Look at its members; press Enter again to name it so anyway.",
      );
      return false;
    }
  }
  confirmedLowAgreement = null;
  const done = await change("Naming", (cl) => api.label(state.runId, cl.cluster, label, cl.version));
  if (done) showNotice(`${clusterName(done)} named “${done.label}”.`);
  return Boolean(done);
}

export async function discard(reason) {
  const done = await change("Discarding", (c) => api.discard(state.runId, c.cluster, c.version, reason));
  if (done) showNotice(`${clusterName(done)} discarded. Press u to undo.`);
}

export async function toggleFlag() {
  const flagged = !(state.current && state.current.flagged);
  const done = await change("Flagging", (c) => api.flag(state.runId, c.cluster, c.version, flagged));
  if (done) showNotice(`${clusterName(done)} ${done.flagged ? "flagged" : "unflagged"}.`);
}

export async function undo() {
  const done = await change("Undoing the last change of", (c) => api.undo(state.runId, c.cluster, c.version));
  if (done) showNotice(`Undone: ${clusterName(done)} is ${statusOf(done)}${done.label ? ` (“${done.label}”)` : ""}.`);
}

/** Splits the open cluster into `parts`; returns {cluster, parts} as the server made them, or null. */
export async function splitCurrent(parts) {
  let made = null;
  const done = await change("Splitting", async (c) => {
    made = await api.split(state.runId, c.cluster, c.version, parts);
    return made.cluster;
  });
  if (done && made) showNotice(`${clusterName(done)} split into ${made.parts.length} parts: name each. u undoes the split.`);
  return done ? made : null;
}

export const excludeMember = (imageId) =>
  change("Excluding a radiograph of", (c) => api.exclude(state.runId, c.cluster, c.version, [imageId]));

export const moveMember = (imageId, toCluster) =>
  change("Moving a radiograph of", (c) => api.move(state.runId, c.cluster, c.version, [imageId], toCluster));
