"""The GPU knobs, proved on the CPU: TF32 per role (set while the role is in use, restored after, never
off CUDA) and Qwen3-VL's attention implementation with its fallbacks, recorded in the run's manifest."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch

from cli_inprocess import RunCli
from testdata import HOUSE
from img23d_backend.env import gpu_knobs
from img23d_backend.grounding.qwen3_vl.ask import load_grounding

CUDA = types.SimpleNamespace(type="cuda")  # a stand-in: only the device's type decides


@pytest.fixture
def flags():
    before = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    yield
    torch.set_float32_matmul_precision(before[0])
    torch.backends.cudnn.allow_tf32 = before[1]


def test_tf32_is_on_for_a_half_precision_role_and_off_for_the_shape_model(flags) -> None:
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = False
    with gpu_knobs.tf32_scope("matting", CUDA):
        assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32) == ("high", True)
        with gpu_knobs.tf32_scope("shape", CUDA):  # a role used inside another decides for its own block
            assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32) == ("highest", False)
        assert torch.get_float32_matmul_precision() == "high"
    assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32) == ("highest", False)
    with gpu_knobs.tf32_scope("matting", torch.device("cpu")):  # nothing changes off CUDA
        assert torch.get_float32_matmul_precision() == "highest"
    assert all(rule.why for rule in gpu_knobs.TF32_ROLES.values())


def test_flash_attention_when_flash_attn_imports_on_cuda(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "flash_attn", types.ModuleType("flash_attn"))
    assert gpu_knobs.choose_attention(CUDA) == "flash_attention_2"
    assert gpu_knobs.choose_attention(torch.device("cpu")) == "sdpa"  # flash_attn is CUDA's only


def test_sdpa_without_flash_attn_and_eager_without_sdpa(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "flash_attn", None)  # None in sys.modules: importing it raises ImportError
    assert gpu_knobs.choose_attention(CUDA) == "sdpa"
    monkeypatch.delattr(torch.nn.functional, "scaled_dot_product_attention")
    assert gpu_knobs.choose_attention(CUDA) == "eager"


def test_the_grounding_model_loads_with_the_chosen_attention(tiny_root: Path, monkeypatch) -> None:
    gpu_knobs._attention_for.cache_clear()
    monkeypatch.setattr(gpu_knobs, "choose_attention", lambda device: "eager")
    try:
        loaded = load_grounding(tiny_root / "qwen3-vl", torch.device("cpu"))
        assert loaded.obj.model.config._attn_implementation == "eager"
    finally:
        gpu_knobs._attention_for.cache_clear()
        monkeypatch.undo()
    loaded = load_grounding(tiny_root / "qwen3-vl", torch.device("cpu"))
    assert loaded.obj.model.config._attn_implementation == "sdpa"


def test_the_manifest_records_attention_tf32_and_each_models_device(cli: RunCli, tmp_path: Path) -> None:
    # In this process (cli_inprocess): the subject is the manifest; a process of its own paid about 7 CPU-seconds
    # of imports before the job began.
    out = cli("detect", HOUSE, "--targets", "house", "--models", "tiny", "--device", "cpu", "--out", tmp_path)
    assert out.returncode == 0, out.stderr
    [run] = list(tmp_path.iterdir())
    models = json.loads((run / "manifest.json").read_text())["models"]
    assert models["grounding"]["attention"] == "sdpa"
    assert {role: (record["device"], record["tf32"]) for role, record in models.items()} == {
        role: ("cpu", False) for role in models}  # TF32 is a CUDA setting: off on the CPU
