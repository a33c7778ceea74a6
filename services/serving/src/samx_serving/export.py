"""Exporting the sorted index of one model version: a manifest (CSV and Parquet) and, optionally, a
folder per anatomical region holding the radiographs' derivative PNGs.

    DIR/manifest.csv, DIR/manifest.parquet    one row per image: id, label, probability, top-k, flags
    DIR/<label>/<image_id>.png                the archived derivative (what the model saw, full size)
"""

from __future__ import annotations

import csv
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from samx_core.archive import SortedIndexRecord, derivative_key
from samx_core.storage import ObjectStore

from samx_serving.index import SortedIndex

COLUMNS = [
    "image_id",
    "label",
    "probability",
    "uncertain",
    "not_msk",
    "tag_mismatch",
    "top",
    "site_id",
    "model_version",
]


@dataclass(frozen=True)
class ExportSummary:
    model_version: str
    images: int
    per_label: dict[str, int]
    files_written: int


def _row(r: SortedIndexRecord) -> dict:
    return {
        "image_id": r.image_id,
        "label": r.label,
        "probability": round(r.probability, 6),
        "uncertain": r.flags.uncertain,
        "not_msk": r.flags.not_msk,
        "tag_mismatch": r.flags.tag_mismatch,
        "top": json.dumps([[s.label, round(s.probability, 6)] for s in r.top]),
        "site_id": r.site_id or "",
        "model_version": r.model_version,
    }


def export_index(
    store: ObjectStore, bucket: str, version: str, out: Path, *, images: bool = True, threads: int = 8
) -> ExportSummary:
    records = SortedIndex(store, bucket).all(version)
    out.mkdir(parents=True, exist_ok=True)
    rows = [_row(r) for r in records]
    with (out / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=_schema()), out / "manifest.parquet")
    written = 0
    if images:

        def copy(record: SortedIndexRecord) -> None:
            folder = out / record.label.replace("/", "-")  # a name like 'a/p' stays one folder
            folder.mkdir(exist_ok=True)
            png = store.get_bytes(bucket, derivative_key(record.image_id))  # ingest's key: no record read
            (folder / f"{record.image_id}.png").write_bytes(png)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(copy, records))
        written = len(records)
    per_label: dict[str, int] = {}
    for r in records:
        per_label[r.label] = per_label.get(r.label, 0) + 1
    return ExportSummary(version, len(records), dict(sorted(per_label.items())), written)


def _schema() -> pa.Schema:
    fields: list[tuple[str, pa.DataType]] = [
        ("image_id", pa.string()),
        ("label", pa.string()),
        ("probability", pa.float64()),
        ("uncertain", pa.bool_()),
        ("not_msk", pa.bool_()),
        ("tag_mismatch", pa.bool_()),
        ("top", pa.string()),
        ("site_id", pa.string()),
        ("model_version", pa.string()),
    ]
    return pa.schema(fields)
