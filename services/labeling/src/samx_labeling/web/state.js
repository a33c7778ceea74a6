// The page's state, in one place. Modules read and write it; rendering functions draw from it.

export const state = {
  runs: [],
  runId: null,
  query: { sort: "size", order: "desc", status: "all" },
  clusters: [], // the grid, in the server's order for the query above
  total: 0, // clusters matching the query on the server (the grid may hold fewer: paging)
  current: null, // the open cluster, as the server last returned it (with its version)
  vocabulary: [],
  pageSize: 60,
};

export const clusterName = (c) => `Cluster ${c.cluster}`;

/** "labeled" / "discarded" / "split" / "unlabeled": what the grid badge and the detail line say. */
export function statusOf(c) {
  if (c.split) return "split";
  if (c.discarded) return "discarded";
  if (c.label) return "labeled";
  return "unlabeled";
}

/** Suggestions arrive as a string or as {label, source, score}; null when there is none. */
export function suggestionOf(c) {
  const s = c && c.suggestion;
  if (!s) return null;
  if (typeof s === "string") return { label: s, why: "" };
  const label = s.label ?? s.name;
  if (!label) return null;
  const parts = [];
  if (s.source) parts.push(`from ${s.source}`);
  const share = s.share ?? s.score ?? s.confidence;
  if (typeof share === "number") parts.push(`${Math.round(share * 100)} % agree`);
  if (typeof s.support === "number") parts.push(`${s.support} known`);
  return {
    label,
    why: parts.length ? `(${parts.join(", ")})` : "",
    share: typeof share === "number" ? share : null,
    below: Boolean(s.below_threshold), // under the service's agreement threshold: likely a mixed cluster
  };
}

export function formatConfidence(value) {
  return typeof value === "number" ? value.toFixed(2) : "–";
}
