// The served classifier beside the viewer's radiograph: its prediction, top-2, the flags (not_msk with the
// OOD score, tag_mismatch) and the Grad-CAM overlay. Toggled by `g` or the button; fetched per radiograph
// through the labeling API (which asks serving), kept for the viewer's session. No classifier configured
// is said in words; serving down or slow is said with the service's message, never left blank.

import { api } from "./api.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
const cache = new Map(); // image id -> explanation (or an Error)
let shownFor = null;

const percent = (p) => `${(100 * p).toFixed(1)} %`;

export function camOpen() {
  return !$("viewer-cam").hidden;
}

export function toggleCam(member) {
  $("viewer-cam").hidden = camOpen();
  $("viewer-cam-button").setAttribute("aria-pressed", String(camOpen()));
  $("viewer-body").classList.toggle("with-cam", camOpen());
  if (camOpen()) camShow(member);
}

export function camForget() {
  cache.clear();
  shownFor = null;
}

/** Shows the classifier's view of `member` when the panel is open (fetching it once). */
export async function camShow(member) {
  if (!camOpen() || !member) return;
  shownFor = member.image_id;
  if (!cache.has(member.image_id)) {
    render({ pending: true });
    try {
      cache.set(member.image_id, await api.explain(state.runId, member.image_id));
    } catch (err) {
      cache.set(member.image_id, err);
    }
  }
  if (shownFor === member.image_id) render(cache.get(member.image_id));
}

function render(found) {
  const img = $("viewer-cam-image");
  const lines = [];
  img.hidden = true;
  if (found.pending) lines.push("Asking the classifier…");
  else if (found instanceof Error) lines.push(`Classifier: ${found.message}`);
  else if (!found.connected) lines.push(found.message || "no classifier connected");
  else {
    lines.push(`${found.class_name}: ${percent(found.probability)} (model ${found.model_version})`);
    const second = (found.top || [])[1];
    if (second) lines.push(`2nd: ${second.label} ${percent(second.probability)}`);
    const flags = found.flags || {};
    const ood = found.ood_score === null || found.ood_score === undefined ? "" : ` (OOD score ${found.ood_score.toFixed(2)})`;
    lines.push(flags.not_msk ? `not_msk: not like the training radiographs${ood}` : `in distribution${ood}`);
    if (flags.tag_mismatch) lines.push("tag_mismatch: BodyPartExamined disagrees with the prediction");
    if (flags.uncertain) lines.push("uncertain: under the calibrated confidence");
    if (found.overlay_png_base64) {
      img.src = `data:image/png;base64,${found.overlay_png_base64}`;
      img.alt = `Grad-CAM of ${found.class_name} on the radiograph (layer ${found.target_layer || "?"}), colour bar on the right`;
      img.hidden = false;
    }
  }
  $("viewer-cam-text").replaceChildren(...lines.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
  $("viewer-cam").dataset.state = found.pending ? "pending" : found instanceof Error ? "error" : found.connected ? "shown" : "none";
}
