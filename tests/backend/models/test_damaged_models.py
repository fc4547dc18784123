"""A model file that is there but damaged ends the job with ``model_damaged``: one sentence naming the
model, the file, its folder and the repair, never a library's exception and a traceback.

Each case damages one file of a copy of the tiny replicas (every other file a link to the replica's):
a safetensors cut in half, garbage in a config.json or config.yaml, a syntax error in BiRefNet's remote
code, a weights file of another model (which transformers would load as random weights); for grounding,
matting and shape, in both families (Hunyuan3D-2's shape model and Step1X-3D's),
through a real Engine job, the command line and the service Blender talks to. A file that is missing
stays ``model_missing``, and a loader's own bug with every file intact stays ``internal``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from backend_proc import BackendProcess
from cli_inprocess import run_cli
from testdata import FAST_OPTIONS, HOUSE, SUBJECT

from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models.placement import LoadedModel
from img23d_backend.catalog import SHAPE, model_set, tiny_model_set
from img23d_protocol import ErrorCode, GenerateRequest, JobOptions, ProtocolError

REBUILD = "rebuild it (python -m img23d_backend.replicas --force"
GEOMETRY = "step1x-3d/Step1X-3D-Geometry-1300m"


@dataclass(frozen=True)
class Damage:
    role: str
    family: str
    file: str        # relative to the tiny set's folder
    how: str         # truncate, garbage, syntax, list (JSON of another shape), empty, table (an empty one),
    #                  foreign (a sound safetensors file of another model's tensors)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.unlink()  # a link to the replica's file: never write through it
    if how == "truncate":
        path.write_bytes(data[:len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"{\x00garbage: [\n")
    elif how == "syntax":
        path.write_bytes(data + b"\ndef broken(:\n")
    elif how == "list":   # valid JSON, and no table: the loader's TypeError was an internal error
        path.write_bytes(b"[]")
    elif how == "empty":  # an empty YAML reads as None: "'NoneType' object is not subscriptable"
        path.write_bytes(b"")
    elif how == "foreign":
        save_file({"another_model.weight": torch.zeros(4, 4)}, str(path))
    elif how == "table":  # transformers guessed the model type from the folder's name: an internal ValueError
        path.write_bytes(b"{}")
    else:
        raise ValueError(how)


def damaged_copy(tiny_root: Path, tmp_path: Path, file: str, how: str) -> Path:
    """The tiny set again, each file a link to the replica's, and ``file`` damaged ``how``."""
    root = tmp_path / "tiny"
    shutil.copytree(tiny_root, root, copy_function=os.symlink)
    _damage(root / file, how)
    return root


# Grounding runs first for names, then matting (the house's crops); with no names, the snowman's real
# alpha skips matting and shape is the first model loaded.
FIRST_LOADED = {"grounding": (HOUSE, ["barrel"]), "matting": (HOUSE, ["barrel"]), "shape": (SUBJECT, [])}

CASES = [
    *(Damage("grounding", family, file, how) for family in ("hunyuan3d", "clean")
      for file, how in (("qwen3-vl/model.safetensors", "truncate"), ("qwen3-vl/config.json", "garbage"))),
    *(Damage("matting", family, file, how) for family in ("hunyuan3d", "clean")
      for file, how in (("birefnet/model.safetensors", "truncate"), ("birefnet/config.json", "garbage"),
                        ("birefnet/birefnet.py", "syntax"))),
    Damage("shape", "hunyuan3d", "hunyuan3d/hunyuan3d-dit-v2-mini/model.fp16.safetensors", "truncate"),
    Damage("shape", "hunyuan3d", "hunyuan3d/hunyuan3d-dit-v2-mini/config.yaml", "garbage"),
    Damage("shape", "hunyuan3d", "hunyuan3d/hunyuan3d-dit-v2-mini/config.yaml", "empty"),
    Damage("grounding", "hunyuan3d", "qwen3-vl/config.json", "list"),
    Damage("grounding", "hunyuan3d", "qwen3-vl/preprocessor_config.json", "list"),
    Damage("grounding", "hunyuan3d", "qwen3-vl/config.json", "table"),
    Damage("grounding", "hunyuan3d", "qwen3-vl/model.safetensors", "foreign"),
    Damage("matting", "clean", "birefnet/model.safetensors", "foreign"),
    Damage("shape", "hunyuan3d", "hunyuan3d/hunyuan3d-dit-v2-mini/config.yaml", "table"),
    Damage("shape", "clean", f"{GEOMETRY}/transformer/diffusion_pytorch_model.safetensors", "truncate"),
    Damage("shape", "clean", f"{GEOMETRY}/transformer/config.json", "garbage"),
    Damage("shape", "clean", f"{GEOMETRY}/model_index.json", "garbage"),
]


def _generate(engine: Engine, role: str) -> ProtocolError:
    image, targets = FIRST_LOADED[role]
    request = GenerateRequest(id="job", image=str(image), targets=targets, options=JobOptions(**FAST_OPTIONS))
    with pytest.raises(ProtocolError) as caught:
        engine.run(request, Job(id="job", emit=lambda event: None))
    return caught.value


def _manifest(runs: Path) -> dict[str, Any]:
    [run] = [path for path in runs.iterdir() if path.is_dir()]
    return json.loads((run / "manifest.json").read_text())


@pytest.mark.fault("damaged model file")
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.family}-{c.role}-{c.file.split('/')[-1]}-{c.how}")
def test_a_damaged_file_names_the_model_its_folder_and_the_repair(tiny_root: Path, tmp_path: Path,
                                                                  case: Damage) -> None:
    root = damaged_copy(tiny_root, tmp_path, case.file, case.how)
    models = tiny_model_set(root, family=case.family)
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path / "runs", device="cpu"))
    error = _generate(engine, case.role)
    spec = models.spec(case.role)
    folder = Path(spec.local_path)  # type: ignore[arg-type]
    assert error.code is ErrorCode.MODEL_DAMAGED, error
    message = error.message
    assert message.startswith(f"{spec.display} is damaged: ")
    assert f"{Path(root / case.file).relative_to(folder).as_posix()} in {folder} " in message, message
    # The copy is not the set IMG23D_TINY_MODELS names: the command says which folder to rebuild.
    assert message.endswith(f"{REBUILD} --out {root})"), message
    assert "\n" not in message and "Error" not in message  # a sentence, not a library's exception
    errors = _manifest(tmp_path / "runs")["errors"]
    assert errors[0]["code"] == "model_damaged" and errors[0]["message"] == message


@pytest.mark.fault("missing model file")
def test_a_missing_file_is_still_model_missing(tiny_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "tiny"
    shutil.copytree(tiny_root, root, copy_function=os.symlink)
    (root / "birefnet" / "birefnet.py").unlink()
    engine = Engine(EngineSettings(models=tiny_model_set(root), runs_dir=tmp_path / "runs", device="cpu"))
    error = _generate(engine, "matting")
    assert error.code is ErrorCode.MODEL_MISSING and "birefnet.py missing" in error.message, error


@pytest.mark.fault("a loader's bug")
def test_a_loaders_own_error_with_every_file_intact_stays_internal(tiny_root: Path, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    spec = engine.manager.spec("shape")

    def buggy(folder: Path, device: Any) -> LoadedModel:
        raise ValueError("a bug in the loader, not in the files")

    engine.manager.register(spec, buggy)
    error = _generate(engine, "shape")
    assert error.code is ErrorCode.INTERNAL and "a bug in the loader" in error.message, error


def _quiet_env(backend_env: dict[str, str], root: Path, tmp_path: Path) -> dict[str, str]:
    # transformers copies remote code into its modules cache: a private one, so that this test's
    # damaged birefnet.py can never reach another process's.
    return {**backend_env, "IMG23D_TINY_MODELS": str(root), "HF_MODULES_CACHE": str(tmp_path / "modules")}


@pytest.mark.fault("damaged model file")
@pytest.mark.parametrize("family, file", [("hunyuan3d", "hunyuan3d/hunyuan3d-dit-v2-mini/model.fp16.safetensors"),
                                          ("clean", f"{GEOMETRY}/transformer/diffusion_pytorch_model.safetensors")])
def test_the_command_line_prints_the_sentence_and_no_traceback(capsys: pytest.CaptureFixture[str], tiny_root: Path,
                                                               tmp_path: Path, family: str, file: str) -> None:
    # In this process (cli_inprocess): the subject is the sentence and the exit code; a process of its own paid
    # about 7 CPU-seconds of imports first. A damaged weights file, not code: no module cache of its own needed.
    root = damaged_copy(tiny_root, tmp_path, file, "truncate")
    out = run_cli(capsys, "generate", SUBJECT, "--models", "tiny", "--family", family, "--device", "cpu",
                  "--out", tmp_path / "runs", "--steps", "3", "--octree-resolution", "32", "--no-texture",
                  env={"IMG23D_TINY_MODELS": str(root)})
    assert out.returncode == 1, out.stderr
    both = out.stdout + out.stderr
    assert "Traceback" not in both and "SafetensorError" not in both, both
    [line] = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert f" is damaged: {file.split('/', 1)[1]} in {root / file.split('/')[0]} is cut off (" in line, line
    # Here the copy is the set IMG23D_TINY_MODELS names: the plain command rebuilds it.
    assert line.endswith(f"{REBUILD}) [model_damaged]"), line


@pytest.mark.fault("damaged model file")
def test_the_service_sends_model_damaged_with_the_sentence(backend_env: dict[str, str], tiny_root: Path,
                                                           tmp_path: Path) -> None:
    """What Blender receives: an ``error`` event whose code and message say it, no traceback."""
    root = damaged_copy(tiny_root, tmp_path, "birefnet/birefnet.py", "syntax")
    proc = BackendProcess(_quiet_env(backend_env, root, tmp_path), tmp_path / "runs")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        reply = proc.request({"type": "generate", "id": "g", "image": str(HOUSE), "targets": ["barrel"],
                              "options": FAST_OPTIONS}, timeout=300)
    finally:
        proc.close()
    assert reply["type"] == "error" and reply["code"] == "model_damaged", reply
    assert reply["message"].startswith("tiny/birefnet") and "birefnet.py in " in reply["message"]
    assert "does not compile" in reply["message"] and reply["message"].endswith(f"{REBUILD})")
    assert "Traceback" not in "".join(proc.stderr_lines)


@pytest.mark.fault("damaged model file")
def test_a_damaged_download_says_delete_its_repository_folder_and_download_again(tiny_root: Path, tmp_path: Path,
                                                                                hub_cache: Path) -> None:
    """A real model's spec over a cache that holds the tiny replica's files in its layout (the same
    folder names as Hunyuan3D-2mini's), the weights' blob cut short."""
    from hub_stand_in import write_cached

    spec = SHAPE["2mini"]
    files = {f"{folder.name}/{path.name}": path.read_bytes()
             for folder in (tiny_root / "hunyuan3d").iterdir() for path in folder.iterdir()}
    snapshot = write_cached(hub_cache, spec.repo_id, str(spec.revision), files, ref=None)
    weights = Path(os.path.realpath(snapshot / spec.subfolder / "model.fp16.safetensors"))  # type: ignore[operator]
    weights.write_bytes(weights.read_bytes()[:100_000])
    models = dataclasses.replace(model_set("default", shape="2mini"), depth=None)
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path / "runs", device="cpu", offline=True))
    error = _generate(engine, "shape")
    assert error.code is ErrorCode.MODEL_DAMAGED, error
    repo = hub_cache / "models--tencent--Hunyuan3D-2mini"
    assert error.message == (f"{spec.display} is damaged: {spec.subfolder}/model.fp16.safetensors in {snapshot} is cut "
                             f"off (100,000 of {len(files[f'{spec.subfolder}/model.fp16.safetensors']):,} bytes); delete "
                             f"{repo} and download it again (python -m img23d_backend models download {spec.display}, "
                             "or Download in the add-on's model list)")
