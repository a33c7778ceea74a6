// The labeling page: sign-in, run picker, progress, navigation between clusters, publishing.
// The grid (grid.js), the open cluster (cluster_view.js) and the keys (keys.js) are wired together here.

import { api, listOf, token } from "./api.js";
import {
  acceptSuggestion,
  discard,
  excludeMember,
  moveMember,
  openCluster,
  saveLabel,
  splitCurrent,
  toggleFlag,
  undo,
  whenClusterChanged,
  whenMemberOpened,
} from "./cluster_view.js";
import { hasMore, loadClusters, loadMoreClusters, markCurrent, updateCard, whenClusterPicked } from "./grid.js";
import { wireKeys } from "./keys.js";
import { clearError, reportError, showError, showNotice, whenUnauthorized, wireMessages } from "./messages.js";
import { publishDialog, showLatestLabelset } from "./publish.js";
import { state } from "./state.js";
import { openPool, openViewer, whenViewerActs, wireViewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const QUERY_SELECTS = { sort: "sort-select", order: "order-select", status: "status-select" };

// -- sign-in ------------------------------------------------------------------------------------------

function askForToken(why) {
  token.clear();
  $("token-why").textContent = why || "The labeling service needs your access token.";
  $("token-input").value = "";
  if (!$("token-dialog").open) $("token-dialog").showModal();
  $("token-input").focus();
}

$("token-dialog").addEventListener("cancel", (event) => event.preventDefault()); // no page without a token
$("token-form").addEventListener("submit", () => {
  token.set($("token-input").value.trim());
  start();
});

// -- runs, progress ------------------------------------------------------------------------------------

async function start() {
  try {
    const [runs, vocabulary] = await Promise.all([api.runs(), api.vocabulary()]);
    clearError();
    state.runs = listOf(runs, "runs").items;
    state.vocabulary = listOf(vocabulary).items;
    // The synonyms show beside each name in the completion list ("hand" - "manus, fingers").
    $("vocabulary").replaceChildren(...state.vocabulary.map((v) => new Option((v.synonyms || []).join(", "), v.name)));
    renderRunPicker();
    const wanted = hashParams();
    const runId = state.runs.some((r) => r.run_id === wanted.run) ? wanted.run : state.runs[0]?.run_id;
    if (runId) await selectRun(runId, Number.isInteger(wanted.cluster) ? wanted.cluster : null);
    else showNotice("No phase-1 run yet: runs appear here when clustering completes.");
  } catch (err) {
    reportError(err, "Loading the runs");
  }
}

function renderRunPicker() {
  const picker = $("run-picker");
  picker.replaceChildren(...state.runs.map((r) => new Option(r.run_id, r.run_id)));
  picker.disabled = state.runs.length === 0;
}

async function selectRun(runId, cluster = null) {
  state.runId = runId;
  state.current = null;
  $("run-picker").value = runId;
  $("publish-button").disabled = false;
  try {
    await Promise.all([loadClusters(), refreshProgress(), showLatestLabelset()]);
    const first = cluster ?? state.clusters[0]?.cluster;
    if (first !== undefined) await open(first);
  } catch (err) {
    reportError(err, `Loading run ${runId}`);
  }
}

export async function refreshProgress() {
  const p = await api.progress(state.runId);
  // Empty clusters need no decision: they count neither as done nor as left.
  const clusters = { done: p.clusters.labeled + p.clusters.discarded, left: p.clusters.left };
  const images = { done: p.images.labeled + p.images.discarded, left: p.images.left, total: p.images.total };
  const bar = $("progress-bar");
  bar.max = Math.max(images.total, 1);
  bar.value = images.done;
  $("progress-clusters").textContent = `${clusters.done}/${clusters.done + clusters.left} clusters done, ${clusters.left} left`;
  $("progress-clusters").title = p.empty_clusters ? `${p.empty_clusters} empty clusters need no name` : "";
  $("progress-images").textContent = `${images.done}/${images.total} images done, ${images.left} left`;
  // The paper's figure of merit: decisions per radiograph (1,000 for 42,608, 0.023).
  const d = p.decisions || {};
  $("progress-decisions").textContent =
    `${d.total ?? 0} decision${d.total === 1 ? "" : "s"} (${(d.per_image ?? 0).toFixed(3)} per image: ${d.names ?? 0} names, ` +
    `${d.discards ?? 0} discards, ${d.splits ?? 0} splits, ${d.exclusions ?? 0} exclusions, ${d.moves ?? 0} moves)`;
  state.progress = { clusters, images, classes: p.classes };
}

// -- navigation ----------------------------------------------------------------------------------------

async function open(number, options) {
  await openCluster(number, options);
  markCurrent();
  setHash();
}

async function step(delta, { focusLabel = false } = {}) {
  const i = state.clusters.findIndex((c) => c.cluster === state.current?.cluster);
  const j = i < 0 ? 0 : i + delta; // the open cluster left the list (filter): start at its top
  if (j >= state.clusters.length && hasMore()) await loadMoreClusters().catch((err) => reportError(err, "Paging"));
  if (j < 0 || j >= state.clusters.length) {
    showNotice(delta > 0 ? "This is the last cluster of the list." : "This is the first cluster of the list.");
    return;
  }
  await open(state.clusters[j].cluster, { focusLabel });
}

/** After a save: the cluster that followed the saved one, even if the filter now hides the saved one. */
async function openNextAfterSave(saved, following) {
  await loadClusters({ atLeast: state.clusters.length }).catch((err) => reportError(err, "Reloading the clusters"));
  const target = state.clusters.find((c) => c.cluster === following) ?? state.clusters.find((c) => c.cluster !== saved);
  if (target && following !== undefined) await open(target.cluster);
  else showNotice("That was the last cluster of this list.");
}

whenClusterPicked((number) => open(number));
whenClusterChanged(async (cluster) => {
  // A split made new clusters, an undone split removed them: the list itself changed, not one card.
  const before = state.clusters.find((c) => c.cluster === cluster.cluster);
  const reshaped = before && Boolean(before.split) !== Boolean(cluster.split);
  updateCard(cluster);
  if (reshaped) await loadClusters({ atLeast: state.clusters.length }).catch((err) => reportError(err, "Reloading"));
  await refreshProgress().catch((err) => reportError(err, "Updating the progress"));
});

$("label-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const saved = state.current?.cluster;
  const i = state.clusters.findIndex((c) => c.cluster === saved);
  const following = state.clusters[i + 1]?.cluster;
  if (await saveLabel()) await openNextAfterSave(saved, following);
});

function askDiscard() {
  if (!state.current || state.current.discarded) return;
  $("discard-dialog").showModal();
  $("discard-confirm").focus(); // Enter confirms; Shift+Tab reaches the reason
}
$("discard-form").addEventListener("submit", () => discard($("discard-reason").value));
$("discard-cancel").addEventListener("click", () => $("discard-dialog").close());
$("discard-dialog").addEventListener("close", () => $("cluster-view").focus());

function askSplit() {
  const c = state.current;
  if (!c || c.split || c.discarded) return;
  if (c.size < 4) return showNotice("A cluster of fewer than 4 radiographs is not split: exclude or move single ones.");
  $("split-dialog").showModal();
  $("split-confirm").focus(); // Enter splits in two; Shift+Tab reaches the number of parts
}
$("split-form").addEventListener("submit", async () => {
  const made = await splitCurrent(Number($("split-parts").value));
  if (!made) return;
  await open(made.parts[0].cluster); // the list was reloaded with the parts (whenClusterChanged): name the first
});
$("split-cancel").addEventListener("click", () => $("split-dialog").close());
$("split-dialog").addEventListener("close", () => $("cluster-view").focus());

whenMemberOpened((imageId, order) => openViewer(imageId, order));
whenViewerActs({
  exclude: excludeMember,
  move: async (imageId, to) => {
    const done = await moveMember(imageId, to);
    if (done) await loadClusters({ atLeast: state.clusters.length }).catch((err) => reportError(err, "Reloading"));
    return done;
  },
});
$("viewer-dialog").addEventListener("close", () => {
  if (state.current) openCluster(state.current.cluster, { focusLabel: false }).then(() => $("cluster-view").focus());
});
wireViewer();

const showHelp = () => $("help-dialog").showModal();
const actions = {
  next: () => step(+1),
  previous: () => step(-1),
  discard: askDiscard,
  flag: toggleFlag,
  undo,
  help: showHelp,
  acceptSuggestion,
  split: askSplit,
  view: () => openViewer(),
  pool: () => openPool(),
};
wireKeys(actions);
$("next-button").addEventListener("click", actions.next);
$("prev-button").addEventListener("click", actions.previous);
$("flag-button").addEventListener("click", toggleFlag);
$("discard-button").addEventListener("click", askDiscard);
$("undo-button").addEventListener("click", undo);
$("help-button").addEventListener("click", showHelp);
$("split-button").addEventListener("click", askSplit);
$("viewer-button").addEventListener("click", () => openViewer());
$("pool-button").addEventListener("click", () => openPool());
$("suggestion-accept").addEventListener("click", acceptSuggestion);

// -- toolbar, run picker, sign-out -----------------------------------------------------------------

for (const [key, id] of Object.entries(QUERY_SELECTS)) {
  $(id).addEventListener("change", async () => {
    state.query[key] = $(id).value;
    setHash();
    await loadClusters().catch((err) => reportError(err, "Loading the clusters"));
  });
}
$("load-more").addEventListener("click", () => loadMoreClusters().catch((err) => reportError(err, "Paging")));
$("run-picker").addEventListener("change", () => selectRun($("run-picker").value));
$("publish-button").addEventListener("click", () => publishDialog(refreshProgress));
$("signout-button").addEventListener("click", () => askForToken("Signed out. Give a token to continue."));

// The hash keeps the place (#run=..&cluster=..&sort=..&order=..&status=..): a reload or a shared link
// opens the same cluster in the same list.
function hashParams() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  for (const [key, id] of Object.entries(QUERY_SELECTS)) {
    const value = params.get(key);
    if (value && [...$(id).options].some((o) => o.value === value)) state.query[key] = $(id).value = value;
  }
  const cluster = params.get("cluster");
  return { run: params.get("run"), cluster: cluster === null || cluster === "" ? null : Number(cluster) };
}

function setHash() {
  if (!state.runId) return;
  const params = new URLSearchParams({ run: state.runId, ...state.query });
  if (state.current) params.set("cluster", String(state.current.cluster));
  history.replaceState(null, "", `#${params}`);
}

wireMessages();
whenUnauthorized(askForToken);
if (token.get()) start();
else askForToken();
window.addEventListener("unhandledrejection", (event) => showError(`Unexpected error: ${event.reason}`));
