"""De-identification benchmark: what the PS3.15 profile adds to ingesting one DICOM, against what ingest
does to it anyway (decode + derivative + thumbnail), measured on the same files in the same run.

Files: pydicom-data's real CRs (uncompressed and JPEG 2000, 2.0-7.2 MB) and CRs built from the dev data's
radiographs (their real headers' tags, several transfer syntaxes), each with an identifying header.

    uv run python bench/deidentify.py [--repeat 5] [--count 40]

Prints a table and writes ``bench/results/deidentify.json``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pydicom  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402
from samx_core.imaging import decode_radiograph, encode_derivative_png, encode_thumbnail_png  # noqa: E402
from samx_ingest.deidentify import Deidentifier  # noqa: E402

from tests.support.datasets import load_unifesp_dicom_tags, unifesp_dir  # noqa: E402
from tests.support.dicom_from_png import SUPPORTED_TRANSFER_SYNTAXES, build_dicom_from_png  # noqa: E402
from tests.support.pydicom_data import pydicom_data_dir  # noqa: E402


def _identifying(data: bytes, i: int) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = f"Bench^Patient{i}", f"MRN-{i:06d}", "19610412"
    ds.ReferringPhysicianName, ds.AccessionNumber, ds.InstitutionName = "Ref^Doc", f"ACC{i}", "Bench Hospital"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def corpus(count: int) -> dict[str, list[bytes]]:
    real = [(pydicom_data_dir() / f"{n}.dcm").read_bytes() for n in ("RG1_UNCR", "RG1_J2KR", "RG3_UNCR", "RG3_J2KR")]
    tags = load_unifesp_dicom_tags()
    pngs = sorted((unifesp_dir() / "images").glob("*.png"))[:count]
    syntaxes = list(SUPPORTED_TRANSFER_SYNTAXES)
    built = [
        build_dicom_from_png(p, tags[f"images/{p.name}"], transfer_syntax=syntaxes[i % len(syntaxes)])
        for i, p in enumerate(pngs)
    ]
    return {
        "pydicom-data CRs (2-7 MB)": [_identifying(d, i) for i, d in enumerate(real)],
        f"dev-data CRs ({count}, built from PNG)": [_identifying(d, i) for i, d in enumerate(built)],
    }


def _ingest_work(data: bytes) -> None:
    decoded = decode_radiograph(data)
    encode_derivative_png(decoded)
    encode_thumbnail_png(decoded, max_side=256)


def _per_file_ms(fn, files: list[bytes], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for data in files:
            fn(data)
        runs.append((time.perf_counter() - started) / len(files) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/deidentify.json")
    args = parser.parse_args()
    deidentify = Deidentifier(b"benchmark key, not a secret of anyone")
    table = Table(title="De-identification cost per DICOM (median of runs)")
    for column in ("files", "mean size", "decode + derivatives ms", "de-identify ms", "ratio to ingest work"):
        table.add_column(column)
    results = []
    for name, files in track(list(corpus(args.count).items()), description="measuring"):
        base = _per_file_ms(_ingest_work, files, args.repeat)
        deid = _per_file_ms(deidentify, files, args.repeat)
        size = sum(map(len, files)) / len(files)
        results.append(
            {
                "files": name,
                "n": len(files),
                "mean_bytes": round(size),
                "ingest_work_ms": round(base, 2),
                "deidentify_ms": round(deid, 2),
                "ratio": round(deid / base, 3),
            }
        )
        table.add_row(name, f"{size / 1e6:.2f} MB", f"{base:.1f}", f"{deid:.1f}", f"{deid / base:.2f}")
    Console().print(table)
    args.out.write_text(
        json.dumps({"machine": platform.processor() or platform.machine(), "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
