"""Build the small demo sample at data/sample/ from the UNIFESP development set.

    python data/make_sample.py [SOURCE] [--out data/sample] [--seed 0]

SOURCE defaults to ../shared/datasets/unifesp-dev (relative to the repo root). The sample is
deterministic for a given source and seed: labeled radiographs are picked class by class, rarest
class first, a whole patient at a time where that keeps every class under its cap (so a split by
patient stays possible); chest, which is most of the source, gets its own cap. Each picked image is
downscaled to a longest side of 256 px (Lanczos) and saved as an optimized 8-bit grayscale PNG
under its original (pseudonymous) file name.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "datasets" / "unifesp-dev"
DEFAULT_OUT = REPO_ROOT / "data" / "sample"
LABEL_COLUMNS = ["image", "labels", "patient_id", "source"]

NOTICE = """# Sample radiographs: attribution and provenance

These {n_total} radiographs ({n_labeled} labeled, {n_unlabeled} unlabeled) are derived from the
**UNIFESP X-ray Body Part Classifier** data set (Universidade Federal de São Paulo, released for a
Kaggle competition, 2022), via a public PNG copy of it. They are real, pseudonymized CR radiographs.

- **Terms**: research use only, under the original competition's terms.
- **Citation**: cite the UNIFESP X-ray Body Part Classifier data set when publishing results that use them.
- **Changes**: a subset ({n_labeled} of the labeled and {n_unlabeled} of the unlabeled images, chosen
  with seed {seed}, chest capped at {chest_cap} and every other class at {cap}, whole patients where
  possible); downscaled to a longest side of {size} px (Lanczos), stored as 8-bit grayscale PNG.
  Pixels are as in the PNG copy: already displayable, MONOCHROME1 images inverted.
  File names, labels, patient ids and DICOM tags are unchanged; `dicom_tags.csv` describes the original
  DICOM files (e.g. `Rows`/`Columns` are the original matrix size, not the PNG's).
- **How it was made**: `python data/make_sample.py` (from the repository root, with the data set at
  `../shared/datasets/unifesp-dev`).

## Contents
- `images/`, `unlabeled/`: the PNGs.
- `labels.csv`: `image,labels,patient_id,source`; `labels` is `;`-separated (several regions on one
  image are kept as they are), empty for unlabeled images.
- `dicom_tags.csv`: the DICOM header of each labeled image.

## Labeled images per class
{n_patients} patients; {n_partial} of them have only some of their source images here (a class cap was
reached), the others all of them. An image with several regions counts once for each class.

| class | images |
|---|---:|
{table}
"""


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: r[c] for c in columns} for r in rows)


def classes_of(row: dict[str, str]) -> list[str]:
    return row["labels"].split(";")


def pick_labeled(rows: list[dict[str, str]], cap: int, chest_cap: int, seed: int) -> list[dict[str, str]]:
    """Rarest class first; per class, patients in seeded order; a patient's images are all taken
    unless one would push some class past its cap, in which case only the ones that fit are."""
    rng = random.Random(seed)
    limit = defaultdict(lambda: cap, chest=chest_cap)
    by_patient: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["image"]):
        by_patient[row["patient_id"]].append(row)
    available = Counter(c for r in rows for c in classes_of(r))
    counts: Counter[str] = Counter()
    chosen: dict[str, dict[str, str]] = {}
    for cls in sorted(available, key=lambda c: (available[c], c)):
        patients = sorted({r["patient_id"] for r in rows if cls in classes_of(r)})
        rng.shuffle(patients)
        for patient in patients:
            if counts[cls] >= limit[cls]:
                break
            for row in by_patient[patient]:
                if row["image"] not in chosen and all(counts[c] < limit[c] for c in classes_of(row)):
                    chosen[row["image"]] = row
                    counts.update(classes_of(row))
    return sorted(chosen.values(), key=lambda r: r["image"])


def downscale(src: Path, dst: Path, size: int) -> None:
    with Image.open(src) as im:
        img = im.convert("L")
    if max(img.size) > size:
        scale = size / max(img.size)
        new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(new, Image.Resampling.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, format="PNG", optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, nargs="?", default=DEFAULT_SOURCE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cap", type=int, default=13, help="most labeled images per class (chest apart)")
    ap.add_argument("--chest-cap", type=int, default=40)
    ap.add_argument("--unlabeled", type=int, default=60)
    ap.add_argument("--size", type=int, default=256, help="longest side in px")
    args = ap.parse_args()

    _, rows = read_csv(args.source / "labels.csv")
    tag_columns, tags = read_csv(args.source / "dicom_tags.csv")
    labeled = pick_labeled([r for r in rows if r["labels"]], args.cap, args.chest_cap, args.seed)
    unlabeled_pool = sorted((r for r in rows if not r["labels"]), key=lambda r: r["image"])
    unlabeled = random.Random(args.seed).sample(unlabeled_pool, args.unlabeled)
    unlabeled.sort(key=lambda r: r["image"])
    picked = labeled + unlabeled

    for sub in ("images", "unlabeled"):  # start clean so a rerun leaves no stale files
        shutil.rmtree(args.out / sub, ignore_errors=True)
    for row in picked:
        downscale(args.source / row["image"], args.out / row["image"], args.size)

    write_csv(args.out / "labels.csv", LABEL_COLUMNS, picked)
    names = {r["image"] for r in labeled}
    write_csv(
        args.out / "dicom_tags.csv",
        tag_columns,
        sorted((t for t in tags if t["image"] in names), key=lambda t: t["image"]),
    )
    per_class = Counter(c for r in labeled for c in classes_of(r))
    table = "\n".join(f"| {c} | {n} |" for c, n in sorted(per_class.items(), key=lambda x: (-x[1], x[0])))
    n_patients = len({r["patient_id"] for r in labeled})
    in_source = Counter(r["patient_id"] for r in rows if r["labels"])
    in_sample = Counter(r["patient_id"] for r in labeled)
    n_partial = sum(in_sample[p] < in_source[p] for p in in_sample)
    (args.out / "NOTICE.md").write_text(
        NOTICE.format(
            n_total=len(picked),
            n_labeled=len(labeled),
            n_unlabeled=len(unlabeled),
            seed=args.seed,
            cap=args.cap,
            chest_cap=args.chest_cap,
            size=args.size,
            n_patients=n_patients,
            n_partial=n_partial,
            table=table,
        ),
        encoding="utf-8",
    )

    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print("labeled images per class (multi-label images count once per class):")
    for c, n in sorted(per_class.items(), key=lambda x: (-x[1], x[0])):
        print(f"  {c:15s} {n:4d}")
    print(f"multi-label images: {sum(';' in r['labels'] for r in labeled)}")
    print(f"labeled: {len(labeled)} images, {n_patients} patients ({n_partial} partial); unlabeled: {len(unlabeled)}")
    print(f"total: {len(picked)} images, {total / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
