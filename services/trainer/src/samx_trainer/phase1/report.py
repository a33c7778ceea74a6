"""The run report (markdown): what ran, how fast, the clusters, and the metrics when there are labels."""

from __future__ import annotations


def render_report(summary: dict, clusters: list[dict], metrics: dict | None) -> str:
    lines = [
        f"# Phase 1 run `{summary['run_id']}`",
        "",
        f"- profile: `{summary['profile']}`, radiographs: {summary['n_images']} "
        f"(skipped unreadable: {summary['n_skipped']}), K = {summary['n_clusters']}",
        f"- starting weights: {_init(summary)}",
        _pretext_line(summary),
        *_restarts(summary.get("pretext_resumed_at") or []),
        f"- compute: {describe_compute(summary.get('pretext_compute') or {})}",
        f"- SCAN: kept head {summary['scan']['best_head']} of {len(summary['scan']['head_losses'])}, "
        f"self-labeling {'on' if summary['scan']['self_label'].get('enabled') else 'off'}",
        f"- wall time: {summary['seconds']:.0f} s",
        "",
        "![cluster sizes](cluster_sizes.png) ![confidence](confidence.png) ![embedding map](embedding_map.png)",
        "",
    ]
    if metrics:
        lines += ["## Metrics (labeled radiographs)", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
        lines.append("")
    lines += ["## Clusters", "", "| cluster | size | mean confidence | montage |", "| --- | --- | --- | --- |"]
    for c in sorted(clusters, key=lambda c: -c["size"]):
        conf = f"{c['mean_confidence']:.3f}" if c["mean_confidence"] is not None else "-"
        montage = f"[png](montages/cluster-{c['cluster']:04d}.png)" if c["size"] else "-"
        lines.append(f"| {c['cluster']} | {c['size']} | {conf} | {montage} |")
    return "\n".join(lines) + "\n"


def describe_compute(c: dict) -> str:
    """``{device, precision, memory_format, threads, workers}`` -> 'cpu, fp32, channels_last, 2 threads x 1'."""
    if not c:
        return "not recorded"
    parts = [c.get("device", "?"), c.get("precision", "?"), c.get("memory_format", "?")]
    return ", ".join(parts) + f", {c.get('threads', '?')} threads x {c.get('workers', '?')} worker(s)"


def _init(summary: dict) -> str:
    init = summary.get("init", "scratch")
    if init == "scratch":
        return "none (trained from scratch)"
    return f"the shipped backbone `{init}` ({summary.get('init_mode')})"


def _restarts(resumed_at: list[int]) -> list[str]:
    if not resumed_at:
        return []
    epochs = ", ".join(str(e) for e in resumed_at)
    return [f"- restarts: the worker group restarted {len(resumed_at)} time(s), resumed after epoch(s) {epochs}"]


def _pretext_line(summary: dict) -> str:
    if not summary["pretext_epochs"]:
        return "- pretext: none (frozen features of the starting weights)"
    return (
        f"- pretext: {summary['pretext_epochs']} epochs on {summary['num_workers']} Ray Train worker(s), "
        f"final loss {summary['pretext_final_loss']:.4f}, {summary['pretext_images_per_s']:.1f} images/s "
        f"(mean over epochs), checkpoint `{summary['checkpoint']}`"
    )
