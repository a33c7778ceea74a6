// The grid of clusters: one card per cluster with its montage (loaded lazily), size, confidence and
// status; sorted and filtered by the server, paged with "Load more".

import { api, listOf } from "./api.js";
import { lazyImage, releaseImages } from "./images.js";
import { clusterName, formatConfidence, state, statusOf } from "./state.js";

const $ = (id) => document.getElementById(id);
let onPick = () => {};

export function whenClusterPicked(handler) {
  onPick = handler;
}

/** Loads the first page of the grid for the current query (or more pages, to keep `atLeast` items). */
export async function loadClusters({ atLeast = 0 } = {}) {
  const wanted = Math.max(state.pageSize, atLeast);
  const body = await api.clusters(state.runId, { ...state.query, offset: 0, limit: wanted });
  const { items, total } = listOf(body, "clusters");
  state.clusters = items;
  state.total = total;
  renderGrid();
}

export async function loadMoreClusters() {
  const body = await api.clusters(state.runId, { ...state.query, offset: state.clusters.length, limit: state.pageSize });
  const { items, total } = listOf(body, "clusters");
  state.clusters = state.clusters.concat(items);
  state.total = total;
  renderGrid();
}

export function hasMore() {
  return state.clusters.length < state.total;
}

/** Replaces one cluster of the grid in place (after an action), without reloading the page of clusters. */
export function updateCard(cluster) {
  const i = state.clusters.findIndex((c) => c.cluster === cluster.cluster);
  if (i < 0) return;
  state.clusters[i] = { ...state.clusters[i], ...cluster };
  const old = document.querySelector(`#cluster-grid [data-cluster="${cluster.cluster}"]`);
  if (old) {
    releaseImages(old);
    old.replaceWith(card(state.clusters[i]));
  }
  markCurrent();
}

export function renderGrid() {
  const grid = $("cluster-grid");
  releaseImages(grid);
  grid.replaceChildren(...state.clusters.map(card));
  $("grid-empty").hidden = state.clusters.length > 0;
  $("load-more").hidden = !hasMore();
  $("list-count").textContent = `(${state.total})`;
  markCurrent();
}

export function markCurrent() {
  const current = state.current ? state.current.cluster : null;
  for (const item of document.querySelectorAll("#cluster-grid > li")) {
    const button = item.querySelector("button");
    const isCurrent = Number(item.dataset.cluster) === current;
    item.classList.toggle("current", isCurrent);
    if (isCurrent) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  const selected = document.querySelector("#cluster-grid > li.current");
  if (selected) selected.scrollIntoView({ block: "nearest" });
}

function card(c) {
  const item = document.createElement("li");
  item.dataset.cluster = c.cluster;
  const status = statusOf(c);
  item.className = `card status-${status}${c.flagged ? " flagged" : ""}`;

  const button = document.createElement("button");
  button.type = "button";
  const badge = status === "labeled" ? c.label : status;
  button.setAttribute(
    "aria-label",
    `${clusterName(c)}, ${c.size} images, confidence ${formatConfidence(c.mean_confidence)}, ${badge}` +
      (c.flagged ? ", flagged" : ""),
  );
  button.addEventListener("click", () => onPick(c.cluster));

  // A split's part has no phase-1 montage: its most central radiograph stands for it.
  const picture = c.montage_url || (c.exemplars && c.exemplars[0] && c.exemplars[0].thumbnail_url) || null;
  const emptyText = c.split ? "split into parts" : "empty cluster";
  const montage = lazyImage(picture, c.size ? `Montage of ${clusterName(c)}` : emptyText, "montage");
  const title = document.createElement("span");
  title.className = "card-title";
  title.textContent = `#${c.cluster}`;
  const facts = document.createElement("span");
  facts.className = "card-facts";
  facts.textContent =
    c.parent !== null && c.parent !== undefined
      ? `${c.size} img · part of #${c.parent}`
      : `${c.size} img · ${formatConfidence(c.mean_confidence)}`;
  const label = document.createElement("span");
  label.className = `badge badge-${status}`;
  label.textContent = badge;
  const line = document.createElement("span");
  line.className = "card-line";
  line.append(title, facts);
  button.append(montage, line, label);
  if (c.flagged) {
    const flag = document.createElement("span");
    flag.className = "flag-mark";
    flag.textContent = "⚑ flagged";
    button.append(flag);
  }
  item.append(button);
  return item;
}
