// Publishing: a confirmation that says what will be frozen, then the published version in the header with
// its CSV (fetched with the token, since a plain link could not send it).

import { api, listOf } from "./api.js";
import { clearError, reportError, showNotice } from "./messages.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);

export async function showLatestLabelset() {
  const { items } = listOf(await api.labelsets(state.runId), "labelsets");
  const latest = items.reduce((best, ls) => (!best || ls.version > best.version ? ls : best), null);
  renderPublished(latest);
}

function renderPublished(labelset) {
  const where = $("published-version");
  where.replaceChildren();
  if (!labelset) {
    where.textContent = "Not published yet";
    return;
  }
  const n = Array.isArray(labelset.classes) ? labelset.classes.length : null;
  const classes = n === null ? "" : ` (${n} ${n === 1 ? "class" : "classes"})`;
  const text = document.createElement("span");
  text.textContent = `Published: v${labelset.version}${classes}`;
  const csv = document.createElement("button");
  csv.type = "button";
  csv.className = "link";
  csv.textContent = "CSV";
  csv.setAttribute("aria-label", `Download label set version ${labelset.version} as CSV`);
  csv.addEventListener("click", () => downloadCsv(labelset.version));
  where.append(text, " ", csv);
}

async function downloadCsv(version) {
  try {
    const text = await api.labelsetCsv(state.runId, version);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    link.download = `labelset-${state.runId}-v${version}.csv`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (err) {
    reportError(err, `Downloading label set v${version}`);
  }
}

export async function publishDialog(refreshProgress) {
  const dialog = $("publish-dialog");
  try {
    await refreshProgress();
  } catch (err) {
    reportError(err, "Reading the progress before publishing");
    return;
  }
  const p = state.progress;
  const left = p.clusters.left;
  // Undecided clusters block a publish unless the radiologist says to leave them out, here, knowingly.
  state.publishIncomplete = left > 0;
  $("publish-summary").textContent =
    `Run ${state.runId}: ${p.clusters.done} clusters decided, ${p.classes} ${p.classes === 1 ? "class" : "classes"}, ` +
    `${p.images.done} images decided.` +
    (left ? ` ${left} cluster(s) are still undecided and will be left out.` : "");
  $("publish-confirm").textContent = left ? `Publish without ${left} undecided` : "Publish";
  $("publish-confirm").disabled = p.classes === 0;
  if (p.classes === 0) $("publish-summary").textContent = "No cluster has a name yet: there is nothing to publish.";
  dialog.returnValue = "";
  dialog.showModal();
  (p.classes === 0 ? $("publish-cancel") : $("publish-confirm")).focus();
}

async function publish() {
  const button = $("publish-button");
  button.disabled = true;
  try {
    const labelset = await api.publish(state.runId, state.publishIncomplete);
    clearError();
    renderPublished(labelset);
    showNotice(`Label set v${labelset.version} published for run ${state.runId}.`);
  } catch (err) {
    reportError(err, "Publishing");
  } finally {
    button.disabled = false;
  }
}

$("publish-form").addEventListener("submit", publish);
$("publish-cancel").addEventListener("click", () => $("publish-dialog").close());
