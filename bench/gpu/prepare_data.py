"""Pack the dev radiographs for the lent GPU machine (runs HERE, not there).

    uv run python bench/gpu/prepare_data.py [--src /work/shared/datasets/unifesp-dev] [--out .gpu/data] [--size 224]

Writes into ``--out`` (an ignored folder that travels with the tree, 64 MiB limit):
- ``images.npz``: one uint8 array ``images_hdelta`` (N, S, S): each PNG resized with its aspect ratio kept
  and padded (letterboxed, black) to S x S, stored as horizontal differences mod 256 (PNG's "Sub" filter:
  lossless, 49 -> 40 MB at 224 px under zlib); :func:`load_images` undoes it with a cumulative sum. The
  file must stay under 45 MB, else rerun with ``--size 192`` (and give the gpu profile that image size).
- ``meta.csv``: index, image, labels (';'-separated, empty = unlabeled), patient_id, labeled, split.
  ``split`` is ``fit`` or ``test``: labeled images split 70/30 BY PATIENT (seed fixed), never by image;
  unlabeled images (no patient id) all go to ``fit``.

Data: UNIFESP X-ray Body Part Classifier data set (Universidade Federal de Sao Paulo, Kaggle 2022).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MAX_BYTES = 45_000_000


def letterbox(path: Path, size: int) -> np.ndarray:
    """PNG -> (size, size) uint8: longest side = size, the rest padded with black, centred."""
    im = Image.open(path).convert("L")
    scale = size / max(im.size)
    w, h = max(1, round(im.width * scale)), max(1, round(im.height * scale))
    im = im.resize((w, h), Image.Resampling.LANCZOS)
    out = np.zeros((size, size), dtype=np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    out[top : top + h, left : left + w] = np.asarray(im)
    return out


def delta_encode(images: np.ndarray) -> np.ndarray:
    return np.diff(images.astype(np.int16), axis=-1, prepend=0).astype(np.uint8)


def load_images(path: Path) -> np.ndarray:
    """(N, S, S) uint8 from ``images.npz`` (either plain ``images`` or ``images_hdelta``)."""
    with np.load(path) as z:
        if "images" in z:
            return z["images"]
        return np.cumsum(z["images_hdelta"], axis=-1, dtype=np.uint8)


def patient_split(rows: list[dict], test_frac: float = 0.3, seed: int = 0) -> list[str]:
    """'fit' / 'test' per row: labeled patients shuffled with ``seed``; ~30% of labeled IMAGES go to test,
    whole patients at a time; unlabeled rows go to fit."""
    patients = sorted({r["patient_id"] for r in rows if r["labels"]})
    rng = np.random.default_rng(seed)
    rng.shuffle(patients)
    per_patient = {p: 0 for p in patients}
    for r in rows:
        if r["labels"]:
            per_patient[r["patient_id"]] += 1
    target, taken, test = test_frac * sum(per_patient.values()), 0, set()
    for p in patients:
        if taken >= target:
            break
        test.add(p)
        taken += per_patient[p]
    return ["test" if r["labels"] and r["patient_id"] in test else "fit" for r in rows]


def load_rows(src: Path) -> list[dict]:
    with open(src / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def pack(src: Path, size: int, seed: int = 0) -> tuple[np.ndarray, list[dict]]:
    rows = load_rows(src)
    split = patient_split(rows, seed=seed)
    images = np.stack([letterbox(src / r["image"], size) for r in rows])
    meta = [
        {
            "index": i,
            "image": r["image"],
            "labels": r["labels"],
            "patient_id": r["patient_id"],
            "labeled": int(bool(r["labels"])),
            "split": s,
        }
        for i, (r, s) in enumerate(zip(rows, split, strict=True))
    ]
    return images, meta


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=Path("/work/shared/datasets/unifesp-dev"))
    ap.add_argument("--out", type=Path, default=REPO / ".gpu" / "data")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    images, meta = pack(args.src, args.size, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "images.npz", images_hdelta=delta_encode(images))
    assert (load_images(args.out / "images.npz") == images).all()
    with open(args.out / "meta.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(meta[0]))
        w.writeheader()
        w.writerows(meta)
    nbytes = (args.out / "images.npz").stat().st_size
    counts = {s: sum(m["split"] == s for m in meta) for s in ("fit", "test")}
    test_labeled = sum(m["split"] == "test" for m in meta)
    print(
        f"{images.shape} uint8 -> {args.out / 'images.npz'}: {nbytes / 1e6:.1f} MB; splits {counts}; "
        f"test = {test_labeled}/{sum(m['labeled'] for m in meta)} labeled images"
    )
    if nbytes > MAX_BYTES:
        print(f"too big (> {MAX_BYTES / 1e6:.0f} MB): rerun with --size 192", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
