"""BiRefNet_HR, the second matting model: pinned, listed with its licence, read at 2048 x 2048,
its replica written as BiRefNet's, its memory counted before a job, chosen on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from cli_inprocess import RunCli
from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.env.job_control import CancelToken
from img23d_backend.models import preflight
from img23d_backend.matting.memory import check_matting
from img23d_backend.catalog import MATTING
from img23d_backend.env.room_table import Held
from img23d_backend.matting.table import MATTING_CODE, input_side, input_sides, tiny_matting
from img23d_backend.catalog import model_set
from img23d_backend.matting import driver as matting
from img23d_protocol import ErrorCode, ProtocolError, model_licence

GB = 1 << 30
FAST_FLAGS = ["--steps", str(FAST_OPTIONS["steps"]), "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--face-budget", str(FAST_OPTIONS["face_budget"]), "--no-texture"]


def test_the_hr_model_is_pinned_mit_and_read_at_2048() -> None:
    spec = MATTING["birefnet-hr"]
    assert spec.repo_id == "ZhengPeng7/BiRefNet_HR" and len(spec.revision or "") == 40
    assert spec.revision != MATTING["birefnet"].revision and spec.trust_remote_code
    assert spec.licence is not None and spec.licence.licence.key == "mit"
    assert (input_side(spec), input_side(MATTING["birefnet"])) == (2048, 1024)
    assert model_set("default", matting="birefnet-hr").matting is spec


def test_the_hr_replica_has_the_keys_and_dtypes_of_birefnets(tiny_root: Path) -> None:
    """The HR checkpoint is BiRefNet's network with other weights: its replica writes the same keys in
    the same dtypes (other values), and its config points its auto_map at the same remote code."""
    def tensors(folder: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
        with safe_open(str(folder / "model.safetensors"), "pt") as weights:
            return {key: (str(weights.get_tensor(key).dtype), tuple(weights.get_tensor(key).shape))
                    for key in weights.keys()}

    plain, hr = tiny_matting(tiny_root, "birefnet"), tiny_matting(tiny_root, "birefnet-hr")
    assert plain.local_path != hr.local_path and input_side(hr) == input_sides()["birefnet-hr"]
    assert tensors(plain.local_path) == tensors(hr.local_path)
    configs = [json.loads((spec.local_path / "config.json").read_text())["auto_map"] for spec in (plain, hr)]
    assert configs[0] == configs[1]
    with safe_open(str(plain.local_path / "model.safetensors"), "pt") as a, \
            safe_open(str(hr.local_path / "model.safetensors"), "pt") as b:
        assert any(not torch.equal(a.get_tensor(key), b.get_tensor(key)) for key in a.keys())


class _Recorder(torch.nn.Module):
    """Records the side of each batch it is given; answers an all-foreground logit map."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.sides: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.sides.append(tuple(x.shape[-2:]))
        return [torch.full((x.shape[0], 1, *x.shape[-2:]), 4.0)]


def test_the_crops_are_read_at_the_models_side() -> None:
    model = _Recorder()
    crop = Image.new("RGB", (300, 200), (90, 90, 90))
    [cutout] = matting.matte(Held(MATTING_CODE["birefnet-hr"], model), [crop], batch_size=1, cancel=CancelToken(),
                             progress=lambda *a: None, input_size=input_side(MATTING["birefnet-hr"]))
    assert model.sides == [(2048, 2048)] and cutout.size == crop.size


def test_the_preflight_refuses_the_hr_model_where_only_birefnet_fits() -> None:
    """On a GPU of 8 GB BiRefNet (1024) fits and BiRefNet_HR (2048: four times the activations) does
    not: the refusal says so in one sentence and names the smaller model."""
    small_gpu = preflight.Room(host=64 * GB, device=8 * GB, shared=False)
    check_matting(MATTING["birefnet"], "cuda", small_gpu)
    with pytest.raises(ProtocolError) as caught:
        check_matting(MATTING["birefnet-hr"], "cuda", small_gpu)
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert "2048 x 2048" in caught.value.message and "choose birefnet" in caught.value.message
    check_matting(MATTING["birefnet-hr"], "cuda", preflight.Room(host=64 * GB, device=40 * GB, shared=False))


def test_generate_with_the_hr_model_on_the_command_line(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", str(HOUSE), "--targets", "house", "--models", "tiny", "--device", "cpu",
              "--matting", "birefnet-hr", "--out", str(tmp_path), *FAST_FLAGS)
    assert out.returncode == 0, out.stderr
    [run] = list(tmp_path.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["models"]["matting"]["id"] == "tiny/birefnet-hr"
    assert manifest["model_counters"]["matting"]["loads_from_disk"] == 1
    assert Image.open(run / manifest["records"][0]["matte"]).mode == "RGBA"


def test_the_models_listing_shows_the_hr_model_with_its_licence(cli: RunCli) -> None:
    out = cli("models")
    assert out.returncode == 0, out.stderr
    [row] = [line for line in out.stdout.splitlines() if line.startswith("matting/birefnet-hr ")]
    assert "a7a562f6fd" in row and "MIT License" in row
    assert model_licence("ZhengPeng7/BiRefNet_HR") is not None
