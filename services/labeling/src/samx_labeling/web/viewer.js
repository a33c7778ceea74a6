// The viewer: every member of the open cluster, one at a time, at full resolution in its own aspect ratio,
// with zoom/pan and window/level (display only: brightness and contrast of the shown image, never of the
// data), its tags beside it, and the two decisions a stray radiograph needs: exclude it, or move it to the
// cluster it belongs to. All from the keyboard; the mouse drags to pan (Shift+drag: window/level).

import { api, listOf } from "./api.js";
import { camForget, camShow, toggleCam } from "./classifier_panel.js";
import { showError, showNotice } from "./messages.js";
import { formatConfidence, state } from "./state.js";

const $ = (id) => document.getElementById(id);
const PAGE = 200; // members fetched per request while paging through a large cluster
const view = { source: "cluster", members: [], total: 0, index: 0, order: "most", zoom: 1, x: 0, y: 0, level: 1, window: 1 };
let handlers = { exclude: async () => null, move: async () => null };

/** `exclude(imageId)` and `move(imageId, toCluster)` run the change through the page's queue and return
 * the cluster as the server left it (null when refused; the page has said why). */
export function whenViewerActs(given) {
  handlers = given;
}

export async function openViewer(imageId = null, order = "most") {
  const c = state.current;
  if (!c) return;
  view.order = order;
  view.source = "cluster";
  try {
    await loadAll((offset) => api.members(state.runId, c.cluster, view.order, PAGE, offset));
  } catch (err) {
    showError(`Loading the members of cluster ${c.cluster}: ${err.message}`);
    return;
  }
  if (!view.members.length) {
    showNotice(`Cluster ${c.cluster} has no members to show.`);
    return;
  }
  opened(imageId);
}

/** The run's excluded pool, one radiograph at a time, each named on its own (`a`, then Enter). */
export async function openPool() {
  if (!state.runId) return;
  view.source = "pool";
  try {
    await loadAll((offset) => api.excluded(state.runId, PAGE, offset));
  } catch (err) {
    showError(`Loading the excluded pool: ${err.message}`);
    return;
  }
  if (!view.members.length) {
    showNotice("No radiograph of this run is excluded: the pool is empty.");
    return;
  }
  opened(null);
}

function opened(imageId) {
  camForget();
  view.index = Math.max(0, view.members.findIndex((m) => m.image_id === imageId));
  resetDisplay();
  show();
  if (!$("viewer-dialog").open) $("viewer-dialog").showModal();
  $("viewer-stage").focus();
}

async function loadAll(fetchPage) {
  view.members = [];
  do {
    const page = listOf(await fetchPage(view.members.length));
    view.members = view.members.concat(page.items);
    view.total = page.total;
    if (!page.items.length) break;
  } while (view.members.length < view.total);
}

function show() {
  const m = view.members[view.index];
  const img = $("viewer-image");
  img.src = m.image_url || m.thumbnail_url; // runs opened before the viewer existed have thumbnails only
  const pool = view.source === "pool";
  const where = pool ? "the excluded pool" : `cluster ${state.current.cluster}`;
  img.alt = `Radiograph ${view.index + 1} of ${view.members.length} of ${where}`;
  const f = m.facts || {};
  const facts = [
    `${view.index + 1} / ${view.members.length}`,
    `confidence ${formatConfidence(m.confidence)}`,
    f.modality,
    f.view_position && `view ${f.view_position}`,
    f.image_laterality && `laterality ${f.image_laterality}`,
    f.columns && f.rows && `${f.columns} × ${f.rows} px`,
    f.site && `site ${f.site}`,
    m.body_part && `BodyPartExamined ${m.body_part}`,
    m.known_labels && `known: ${m.known_labels.replaceAll(";", ", ")}`,
    m.phase1_cluster !== null && m.phase1_cluster !== undefined && `phase 1 put it in cluster ${m.phase1_cluster}`,
    m.image_url ? null : "thumbnail only",
    pool && (m.label ? `named ${m.label}` : "not named"),
  ].filter(Boolean);
  $("viewer-facts").textContent = facts.join(" · ");
  const title = pool ? "Excluded pool" : `Cluster ${state.current.cluster}`;
  $("viewer-title").textContent = `${title}: radiograph ${String(m.image_id).slice(0, 12)}`;
  $("viewer-move").hidden = true;
  $("viewer-name-form").hidden = !pool;
  $("viewer-name-input").value = m.label || "";
  $("viewer-exclude").hidden = $("viewer-move-button").hidden = pool;
  $("viewer-stage").dataset.source = view.source;
  applyDisplay();
  camShow(m);
}

function resetDisplay() {
  Object.assign(view, { zoom: 1, x: 0, y: 0, level: 1, window: 1 });
}

function applyDisplay() {
  const img = $("viewer-image");
  // CSSOM, not a style attribute: the page's Content-Security-Policy allows styles from the page's files only.
  img.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`;
  img.style.filter = `brightness(${view.level.toFixed(2)}) contrast(${view.window.toFixed(2)})`;
  $("viewer-display").textContent =
    `zoom ${view.zoom.toFixed(2)}× · level ${view.level.toFixed(2)} · window ${view.window.toFixed(2)}`;
  $("viewer-stage").dataset.level = view.level.toFixed(2);
  $("viewer-stage").dataset.window = view.window.toFixed(2);
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

function step(delta) {
  view.index = clamp(view.index + delta, 0, view.members.length - 1);
  resetDisplay();
  show();
}

function adjust({ zoom = 1, level = 0, window = 0, dx = 0, dy = 0 }) {
  view.zoom = clamp(view.zoom * zoom, 0.5, 8);
  view.level = clamp(view.level + level, 0.2, 3);
  view.window = clamp(view.window + window, 0.2, 5);
  view.x += dx;
  view.y += dy;
  applyDisplay();
}

async function excludeShown() {
  if (view.source === "pool") return;
  const m = view.members[view.index];
  const done = await handlers.exclude(m.image_id);
  if (!done) return;
  view.members.splice(view.index, 1);
  showNotice(`Excluded from cluster ${done.cluster}: it trains nothing now. u (outside the viewer) undoes it.`);
  if (!view.members.length) return $("viewer-dialog").close();
  step(view.index >= view.members.length ? -1 : 0);
}

function askMove() {
  if (view.source === "pool") return;
  $("viewer-move").hidden = false;
  $("viewer-move-input").value = "";
  $("viewer-move-input").focus();
}

async function moveShown(event) {
  event.preventDefault();
  const to = Number($("viewer-move-input").value);
  if (!Number.isInteger(to) || to < 0) return showError("Give the number of the cluster it belongs to.");
  const m = view.members[view.index];
  const done = await handlers.move(m.image_id, to);
  $("viewer-stage").focus();
  if (!done) return;
  view.members.splice(view.index, 1);
  showNotice(`Moved to cluster ${to}. u on cluster ${done.cluster} undoes it.`);
  if (!view.members.length) return $("viewer-dialog").close();
  step(view.index >= view.members.length ? -1 : 0);
}

function askName() {
  if (view.source !== "pool") return;
  $("viewer-name-input").focus();
  $("viewer-name-input").select();
}

async function nameShown(event) {
  event.preventDefault();
  const m = view.members[view.index];
  const text = $("viewer-name-input").value.trim();
  if (!text) return showError("Give the radiograph's anatomical region.");
  await changeShown(() => api.nameImage(state.runId, m.image_id, text, m.label_version), (done) => {
    showNotice(`Named ${done.label}: it trains under this name. u undoes it.`);
    step(view.index < view.members.length - 1 ? +1 : 0); // the next one is ready to be named
  });
}

async function undoShown() {
  if (view.source !== "pool") return;
  const m = view.members[view.index];
  await changeShown(() => api.undoImage(state.runId, m.image_id, m.label_version), (done) =>
    showNotice(done.label ? `Its name is ${done.label} again.` : "Its name is undone: it trains nothing."),
  );
}

async function changeShown(call, after) {
  const index = view.index;
  let done;
  try {
    done = await call();
  } catch (err) {
    $("viewer-stage").focus();
    return showError(err.status === 409 ? `${err.message} (reopen the pool to see the latest)` : err.message);
  }
  view.members[index] = done;
  $("viewer-stage").focus();
  if (view.index === index) show();
  after(done);
}

const KEYS = {
  ArrowRight: () => step(+1),
  n: () => step(+1),
  ArrowLeft: () => step(-1),
  p: () => step(-1),
  "+": () => adjust({ zoom: 1.25 }),
  "=": () => adjust({ zoom: 1.25 }),
  "-": () => adjust({ zoom: 0.8 }),
  0: () => {
    resetDisplay();
    applyDisplay();
  },
  b: () => adjust({ level: -0.1 }),
  B: () => adjust({ level: +0.1 }),
  c: () => adjust({ window: -0.1 }),
  C: () => adjust({ window: +0.1 }),
  h: () => adjust({ dx: 40 }),
  l: () => adjust({ dx: -40 }),
  k: () => adjust({ dy: 40 }),
  j: () => adjust({ dy: -40 }),
  x: excludeShown,
  m: askMove,
  g: () => toggleCam(view.members[view.index]),
  a: askName,
  u: undoShown,
};

export function wireViewer() {
  $("viewer-stage").addEventListener("keydown", (event) => {
    const action = KEYS[event.key];
    if (!action || event.ctrlKey || event.altKey || event.metaKey) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  });
  $("viewer-move-form").addEventListener("submit", moveShown);
  $("viewer-name-form").addEventListener("submit", nameShown);
  $("viewer-name-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      $("viewer-stage").focus();
    }
  });
  $("viewer-cam-button").addEventListener("click", () => toggleCam(view.members[view.index]));
  $("viewer-move-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      $("viewer-move").hidden = true;
      $("viewer-stage").focus();
    }
  });
  $("viewer-close").addEventListener("click", () => $("viewer-dialog").close());
  $("viewer-exclude").addEventListener("click", excludeShown);
  $("viewer-move-button").addEventListener("click", askMove);
  let drag = null;
  $("viewer-stage").addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, shift: event.shiftKey };
    $("viewer-stage").setPointerCapture(event.pointerId);
  });
  $("viewer-stage").addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    drag.x = event.clientX;
    drag.y = event.clientY;
    if (drag.shift) adjust({ level: -dy / 200, window: dx / 200 });
    else adjust({ dx, dy });
  });
  $("viewer-stage").addEventListener("pointerup", () => {
    drag = null;
  });
  $("viewer-stage").addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      adjust({ zoom: event.deltaY < 0 ? 1.1 : 0.9 });
    },
    { passive: false },
  );
}
