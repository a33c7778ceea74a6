"""The precision and layout policy: settings are obeyed, ``auto`` measures, and what ran is described."""

from __future__ import annotations

import pytest
import torch
from samx_ml.backbone import Backbone
from samx_ml.compute import ComputePolicy, _fastest_cpu_policy, resolve_policy

CPU = torch.device("cpu")


def test_fp32_setting_is_plain_float32_nchw():
    policy = resolve_policy(CPU, "fp32")
    assert (policy.bf16, policy.channels_last) == (False, False)
    assert policy.describe() == {"device": "cpu", "precision": "fp32", "memory_format": "contiguous"}
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_policy(CPU, "fp16")


def test_auto_measures_every_candidate_and_records_the_figures():
    policy = resolve_policy(CPU, "auto")
    described = policy.describe()
    assert described["precision"] == policy.precision
    probe = described["probe_images_per_s"]
    assert {"fp32/contiguous", "fp32/channels_last"} <= set(probe) and all(rate > 0 for rate in probe.values())
    assert resolve_policy(CPU, "auto") is not None  # measured once per process: the second call is free


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ({"fp32/contiguous": 100.0, "fp32/channels_last": 120.0}, (False, True)),
        ({"fp32/contiguous": 130.0, "fp32/channels_last": 100.0}, (False, False)),  # NCHW clearly faster
        ({"fp32/contiguous": 118.0, "fp32/channels_last": 100.0}, (False, True)),  # within a busy probe's noise
        ({"fp32/contiguous": 100.0, "fp32/channels_last": 98.0}, (False, True)),  # a near tie: channels_last
        ({"fp32/contiguous": 100.0, "fp32/channels_last": 100.0, "bf16/contiguous": 105.0}, (False, True)),
        ({"fp32/contiguous": 100.0, "fp32/channels_last": 100.0, "bf16/channels_last": 190.0}, (True, True)),
    ],
)
def test_the_fastest_candidate_wins_and_bf16_only_when_clearly_faster(monkeypatch, probe, expected):
    monkeypatch.setattr("samx_ml.compute._cpu_probe", lambda threads: probe)
    policy = _fastest_cpu_policy(CPU, 2)
    assert (policy.bf16, policy.channels_last) == expected


def test_a_policy_puts_module_and_batch_in_its_layout_and_runs_in_its_precision():
    policy = ComputePolicy(CPU, bf16=True, channels_last=True)
    model = policy.prepare_module(Backbone("resnet18")).eval()
    weight = model.net.layer1[0].conv1.weight  # (64, 64, 3, 3): the layouts differ (one input channel would not)
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    x = policy.prepare_batch(torch.rand(2, 1, 32, 32))
    with torch.no_grad(), policy.autocast():
        assert model(x).dtype == torch.bfloat16
    plain = resolve_policy(CPU, "fp32")
    plain_model = plain.prepare_module(Backbone("resnet18")).eval()
    assert plain_model.net.layer1[0].conv1.weight.is_contiguous()
    with torch.no_grad(), plain.autocast():
        assert plain_model(plain.prepare_batch(x)).dtype == torch.float32


def test_the_probe_measures_also_when_first_asked_inside_no_grad():
    # embed() is the first to ask in the phase-1 driver, from inside torch.no_grad (a bug once)
    from samx_ml.compute import _cpu_probe

    with torch.no_grad():
        assert _cpu_probe.__wrapped__(torch.get_num_threads())["fp32/contiguous"] > 0


def test_bf16_asked_for_is_bf16_even_where_the_probe_would_not_choose_it():
    policy = resolve_policy(CPU, "bf16")
    assert (policy.bf16, policy.channels_last) == (True, True)


def _agree(rank: int, init_file: str, out_dir: str) -> None:
    import json

    import torch.distributed as dist
    from samx_ml.compute import ComputePolicy, agreed_policy

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        # what two ranks of a busy machine measured: they disagree on the layout
        mine = ComputePolicy(torch.device("cpu"), bf16=False, channels_last=rank == 0, probe={"rank": rank})
        agreed = agreed_policy(mine)
        with open(f"{out_dir}/{rank}.json", "w") as handle:
            json.dump({"channels_last": agreed.channels_last, "bf16": agreed.bf16, "probe": agreed.probe}, handle)
    finally:
        dist.destroy_process_group()


def test_ranks_that_measured_differently_adopt_rank_zeros_policy(tmp_path):
    """DDP refuses a model whose parameter strides differ across ranks (channels_last on one only)."""
    import json

    import torch.multiprocessing as mp

    mp.spawn(_agree, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    agreed = [json.loads((tmp_path / f"{rank}.json").read_text()) for rank in (0, 1)]
    assert agreed[0] == agreed[1] == {"channels_last": True, "bf16": False, "probe": {"rank": 0}}
