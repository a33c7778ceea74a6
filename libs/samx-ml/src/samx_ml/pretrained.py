"""SAM-X's own pretrained backbones, shipped as package data of samx-ml and loaded by name.

Nothing is ever downloaded: the weights are a file beside this module (``weights/<name>.safetensors``,
fp16, safetensors rather than pickle so that loading runs no code), described by ``weights/<name>.json``
(architecture, input size, recipe, corpus, the file's sha256) and a model card (``weights/<name>.md``).
The sha256 is checked at every load: a changed, truncated or Git-LFS-pointer file is refused.

The file holds a whole ``SimCLRModel`` (backbone ``backbone.*`` and projection head ``head.*``), so that
phase 1 can go on with the same SimCLR objective on an archive, starting where pretraining stopped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from samx_ml.simclr import SimCLRModel

WEIGHTS_DIR = Path(__file__).parent / "weights"
SCRATCH = "scratch"


class WeightsError(Exception):
    """A backbone that cannot be used: unknown name, missing file, or a file that is not the one described."""


@dataclass(frozen=True)
class ShippedBackbone:
    name: str
    arch: str
    image_size: int  # the input size it was trained at; phase 1 may use another
    proj_hidden: int
    proj_dim: int
    sha256: str
    card: dict[str, Any]  # the rest of weights/<name>.json: recipe, corpus, figures

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.safetensors"


def shipped_backbones() -> dict[str, ShippedBackbone]:
    """Every backbone in the package, by name (from the ``weights/*.json`` descriptions)."""
    found = {}
    for description in sorted(WEIGHTS_DIR.glob("*.json")):
        d = json.loads(description.read_text())
        found[d["name"]] = ShippedBackbone(
            d["name"], d["arch"], d["image_size"], d["proj_hidden"], d["proj_dim"], d["sha256"], d
        )
    return found


def default_init() -> str:
    """The newest shipped backbone, or ``scratch`` when the package has none."""
    names = sorted(shipped_backbones())
    return names[-1] if names else SCRATCH


def resolve_init(init: str | None) -> ShippedBackbone | None:
    """``None``/``"default"``: the newest shipped backbone; ``"scratch"``: none; else the one of that name."""
    name = default_init() if init in (None, "", "default") else init
    if name == SCRATCH:
        return None
    shipped = shipped_backbones()
    if name not in shipped:
        raise WeightsError(f"no shipped backbone {name!r}; choose one of {sorted(shipped) + [SCRATCH]}")
    return shipped[name]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_into(model: SimCLRModel, shipped: ShippedBackbone) -> None:
    """Copies the shipped weights into ``model`` (fp16 on disk -> the model's dtype), after the checksum."""
    if not shipped.path.is_file():
        raise WeightsError(f"the weights of {shipped.name} are missing ({shipped.path}); reinstall samx-ml")
    actual = file_sha256(shipped.path)
    if actual != shipped.sha256:
        raise WeightsError(
            f"{shipped.path.name} is not the file its description names (sha256 {actual[:12]}..., expected "
            f"{shipped.sha256[:12]}...): changed, truncated or a Git LFS pointer; restore it"
        )
    if model.backbone.arch != shipped.arch:
        raise WeightsError(f"{shipped.name} is a {shipped.arch}; the run asks for a {model.backbone.arch}")
    state = load_file(str(shipped.path))
    target = model.state_dict()
    missing = sorted(set(target) - set(state))
    if missing:
        raise WeightsError(f"{shipped.name} lacks {len(missing)} tensors of the model, e.g. {missing[0]}")
    model.load_state_dict({k: v.to(target[k].dtype) for k, v in state.items() if k in target})


def shipped_model(shipped: ShippedBackbone) -> SimCLRModel:
    model = SimCLRModel(shipped.arch, shipped.proj_hidden, shipped.proj_dim)
    load_into(model, shipped)
    return model


def export(model: SimCLRModel, name: str, description: dict[str, Any], *, image_size: int) -> ShippedBackbone:
    """Writes ``weights/<name>.safetensors`` (fp16) and its description with the file's sha256."""
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    path = WEIGHTS_DIR / f"{name}.safetensors"
    tensors = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous().cpu()
        for k, v in model.state_dict().items()
    }
    save_file(tensors, str(path), metadata={"name": name, "arch": model.backbone.arch})
    head = model.head.net
    d = {
        **description,
        "name": name,
        "arch": model.backbone.arch,
        "image_size": image_size,
        "proj_hidden": head[0].out_features,
        "proj_dim": head[3].out_features,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
    }
    (WEIGHTS_DIR / f"{name}.json").write_text(json.dumps(d, indent=2) + "\n")
    return shipped_backbones()[name]
