"""A texture or depth model that cannot load or run keeps every mesh the job made, and says why once.

Each fault is injected into a copy of the tiny replicas (a missing file, a corrupt one, keys the
model does not have) or by a failpoint (out of memory while a model loads, or while it paints).
Only grounding, matting and shape may fail a target: the texture models' faults leave every
target's untextured mesh in the run folder, with one sentence in the manifest and the result.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
from pathlib import Path

import pytest
import trimesh

from img23d_backend.env.torch_shims import prepare_torchvision

prepare_torchvision()

import torch  # noqa: E402

from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE  # noqa: E402
from img23d_backend.env.failpoints import ENV as FAILPOINTS  # noqa: E402
from img23d_backend.jobs import Engine, EngineSettings, Job  # noqa: E402
from img23d_backend.catalog import tiny_model_set  # noqa: E402
from img23d_backend.families.hunyuan3d.specs import DELIGHT_SUBFOLDER, PAINT_TURBO_SUBFOLDER
from img23d_protocol import Error, ErrorCode, GenerateJobResult, GenerateRequest, JobOptions, Progress  # noqa: E402

TARGETS = ["house", "chimney"]
PAINT_OPTIONS = {**FAST_OPTIONS, **FAST_PAINT}

pytestmark = pytest.mark.skipif(not HOUSE.is_file(), reason=f"needs the example picture {HOUSE}")


def _paint_copy(tiny_root: Path, tmp_path: Path) -> Path:
    """The tiny paint folder again, each file a link to the replica's, for one file to be broken."""
    copy = tmp_path / "hunyuan3d-paint"
    shutil.copytree(tiny_root / "hunyuan3d-paint", copy, copy_function=os.symlink)
    return copy


def _replace(path: Path, data: bytes) -> None:
    path.unlink()  # a link to the replica's file: never write through it
    path.write_bytes(data)


def _wrong_keys(vae: Path) -> bytes:
    state = torch.load(vae, weights_only=True)
    state["decoder.conv_output.weight"] = state.pop("decoder.conv_out.weight")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _break(folder: Path, fault: str) -> None:
    turbo = folder / PAINT_TURBO_SUBFOLDER
    if fault == "missing":
        (turbo / "vae" / "diffusion_pytorch_model.bin").unlink()
    elif fault == "corrupt":
        _replace(turbo / "unet" / "diffusion_pytorch_model.safetensors", b"\x00not a safetensors file" * 64)
    elif fault == "wrong keys":
        vae = turbo / "vae" / "diffusion_pytorch_model.bin"
        _replace(vae, _wrong_keys(vae))
    elif fault == "delight missing":
        (folder / DELIGHT_SUBFOLDER / "unet" / "diffusion_pytorch_model.safetensors").unlink()


def _engine(tiny_root: Path, tmp_path: Path, paint_folder: Path | None = None) -> Engine:
    models = tiny_model_set(tiny_root)
    if paint_folder is not None:
        models = dataclasses.replace(models, paint=dataclasses.replace(models.paint, local_path=paint_folder),
                                     delight=dataclasses.replace(models.delight, local_path=paint_folder))
    return Engine(EngineSettings(models=models, runs_dir=tmp_path / "runs", device="cpu"))


def _generate(engine: Engine, events: list) -> GenerateJobResult:
    request = GenerateRequest(id="job", image=str(HOUSE), targets=TARGETS, options=JobOptions(**PAINT_OPTIONS))
    return engine.run(request, Job(id="job", emit=events.append))


def _assert_every_mesh_kept_untextured(data: GenerateJobResult) -> dict:
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["status"] == "finished"
    assert [r["target"] for r in manifest["records"]] == TARGETS
    for record in manifest["records"]:
        assert record["status"] == "done" and not record["textured"], record
        mesh = trimesh.load(Path(data.run_dir) / record["mesh"], force="mesh")
        assert len(mesh.faces) > 100 and getattr(mesh.visual, "uv", None) is None
    return manifest


@pytest.mark.parametrize("fault, says", [
    ("missing", "vae/diffusion_pytorch_model.bin missing"),
    ("corrupt", "the paint model"),
    ("wrong keys", "conv_output"),
    ("delight missing", "the delight model"),
])
def test_a_texture_model_that_cannot_load_keeps_every_untextured_mesh(tiny_root: Path, tmp_path: Path,
                                                                      fault: str, says: str) -> None:
    folder = _paint_copy(tiny_root, tmp_path)
    _break(folder, fault)
    engine = _engine(tiny_root, tmp_path, folder)
    events: list = []
    data = _generate(engine, events)
    manifest = _assert_every_mesh_kept_untextured(data)
    sentence = manifest["texture_skipped"]
    assert sentence.startswith("texture skipped: the ") and "could not be loaded" in sentence, sentence
    assert says in sentence and sentence.endswith("every mesh is kept untextured")
    assert data.texture_skipped == sentence and "\n" not in sentence
    # Said once, and no target failed for it; the broken model was read once, not once per target.
    assert [e.message for e in events if isinstance(e, Progress) and e.message == sentence] == [sentence]
    assert not [e for e in events if isinstance(e, Error)]
    assert all(r["error"] is None for r in manifest["records"])
    role = "delight" if fault == "delight missing" else "paint"
    assert manifest["model_counters"][role]["loads_from_disk"] == 0


def test_running_out_of_memory_loading_the_paint_model_keeps_every_mesh(tiny_root: Path, tmp_path: Path,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv(FAILPOINTS, "load.paint:oom")
    data = _generate(_engine(tiny_root, tmp_path), [])
    manifest = _assert_every_mesh_kept_untextured(data)
    assert "could not be loaded: it ran out of memory (MemoryError)" in manifest["texture_skipped"]


def test_running_out_of_memory_while_painting_keeps_each_mesh_and_says_so_per_target(
        tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    # The paint stage runs out of memory for every target: each keeps its mesh, untextured,
    # with its own reason (the model loaded; the next target is tried as usual).
    monkeypatch.setenv(FAILPOINTS, "paint:oom")
    events: list = []
    data = _generate(_engine(tiny_root, tmp_path), events)
    manifest = _assert_every_mesh_kept_untextured(data)
    assert manifest["texture_skipped"] is None
    for record in manifest["records"]:
        assert record["error"]["code"] == ErrorCode.OUT_OF_MEMORY.value
        assert "ran out of memory" in record["error"]["message"] and "kept it untextured" in record["error"]["message"]
    assert sorted(e.target for e in events if isinstance(e, Error)) == sorted(TARGETS)


@pytest.mark.parametrize("fault", ["oom", "corrupt"])
def test_a_depth_model_that_cannot_load_places_the_objects_by_their_boxes(tiny_root: Path, tmp_path: Path,
                                                                         monkeypatch, fault: str) -> None:
    models = tiny_model_set(tiny_root)
    if fault == "oom":
        monkeypatch.setenv(FAILPOINTS, "load.depth:oom")
    else:
        copy = tmp_path / "depth"
        shutil.copytree(models.depth.local_path, copy, copy_function=os.symlink)
        weights = max(copy.iterdir(), key=lambda path: path.stat().st_size)   # the default model's weights file
        _replace(weights, b"\x00garbage" * 64)
        models = dataclasses.replace(models, depth=dataclasses.replace(models.depth, local_path=copy))
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path / "runs", device="cpu"))
    request = GenerateRequest(id="job", image=str(HOUSE), targets=TARGETS, options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="job", emit=lambda event: None))
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["status"] == "finished" and all(r["status"] == "done" for r in manifest["records"])
    sentence = manifest["depth_skipped"]
    assert sentence.startswith("depth skipped: the depth model") and sentence.endswith("placed by their boxes")
    assert data.depth_skipped == sentence
    assert manifest["scene"]["depth"]["model"] is None
    assert all(r["placement"] is not None and r["depth"]["disparity"] is None for r in manifest["records"])
