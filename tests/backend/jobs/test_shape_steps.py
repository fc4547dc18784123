"""The shape steps follow the chosen model: its kind's own unless the job names a number."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cli_inprocess import RunCli
from testdata import FAST_OPTIONS, SUBJECT
from img23d_backend.commands import cli
from img23d_backend.models import preflight
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models.registry import shape_steps
from img23d_backend.catalog import SHAPE, model_set, tiny_model_set
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_protocol import SHAPE_MODELS, TINY_MODELS, TINY_SHAPE_MODEL, GenerateRequest, JobOptions, ProtocolError

QUICK = {**FAST_OPTIONS, "steps": 0}  # the fast test settings, steps left to the model


def test_the_registry_takes_its_shape_models_and_their_kinds_from_the_protocol() -> None:
    assert set(SHAPE) == set(SHAPE_MODELS) - set(TINY_MODELS)
    for name, spec in SHAPE.items():
        assert spec.shape_kind is SHAPE_MODELS[name]
        # Distilled: the turbo DiTs and 2mv's -fast (guidance-distilled) take the guidance as an input.
        assert ("turbo" in spec.subfolder or "fast" in spec.subfolder) == spec.shape_kind.embedded_guidance
    assert tiny_model_set(Path("x")).shape.shape_kind is SHAPE_MODELS[TINY_SHAPE_MODEL]
    assert shape_steps(model_set("default", shape="2mini").shape, 0) == 30
    assert shape_steps(model_set("default", shape="2.0-turbo").shape, 0) == 5
    assert shape_steps(model_set("default", shape="2.0-turbo").shape, 12) == 12


def _engine(tiny_root: Path, runs: Path, kind: str) -> Engine:
    """The tiny replica's weights, standing in for the model ``kind`` names (its steps and guidance)."""
    tiny = tiny_model_set(tiny_root)
    models = replace(tiny, shape=replace(tiny.shape, shape_kind=SHAPE_MODELS[kind]))
    return Engine(EngineSettings(models=models, runs_dir=runs, device="cpu"))


def _denoising_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the pipeline call: the num_inference_steps each DiT batch ran."""
    prepare_torchvision()  # hy3dgen imports torchvision
    from hy3dgen.shapegen import Hunyuan3DDiTFlowMatchingPipeline

    seen: list[int] = []
    original = Hunyuan3DDiTFlowMatchingPipeline.__call__

    def spy(self, *args, **kwargs):
        seen.append(kwargs["num_inference_steps"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Hunyuan3DDiTFlowMatchingPipeline, "__call__", spy)
    return seen


def _generate(engine: Engine, **options) -> dict:
    request = GenerateRequest(id="s", image=str(SUBJECT), targets=[], options=JobOptions(**{**QUICK, **options}))
    data = engine.run(request, Job(id="s", emit=lambda event: None))
    return json.loads(Path(data.manifest).read_text())


def test_hunyuan3d_2mini_with_the_default_steps_runs_30(tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    seen = _denoising_steps(monkeypatch)
    engine = _engine(tiny_root, tmp_path, "2mini")
    manifest = _generate(engine)
    assert seen == [30]  # not the turbo models' 5: a model trained for 30-50 steps gets its 30
    assert manifest["options"]["steps"] == 30  # the manifest says the steps that ran
    assert _generate(engine, steps=4)["options"]["steps"] == 4 and seen == [30, 4]  # an explicit value wins


def test_a_turbo_model_runs_5_and_the_tiny_replica_its_own(tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    seen = _denoising_steps(monkeypatch)
    _generate(_engine(tiny_root, tmp_path / "a", "2mini-turbo"))
    _generate(Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "b", device="cpu")))
    assert seen == [5, SHAPE_MODELS[TINY_SHAPE_MODEL].steps]


def test_memory_preflight_doubles_the_dit_for_classifier_free_models_whatever_the_scale(tiny_root: Path,
                                                                                        tmp_path: Path) -> None:
    # hy3dgen runs classifier-free guidance for every guidance scale >= 0 on a non-turbo model:
    # a scale of 0 still doubles the batch, and a turbo model never does.
    assert _engine(tiny_root, tmp_path, "2mini").classifier_free
    assert not _engine(tiny_root, tmp_path, "2mini-turbo").classifier_free
    options = JobOptions(guidance_scale=0.0, octree_resolution=64, texture=False)
    single = preflight.shape_need(64, 1, guidance=False)
    room = preflight.Room(host=single.host + preflight.RESERVE_BYTES)  # one pass fits, two do not
    preflight.check_job(options, "cpu", room, guidance=False)
    with pytest.raises(ProtocolError, match="octree resolution 64"):
        preflight.check_job(options, "cpu", room, guidance=True)


@pytest.mark.parametrize("shape, flag, field, own", [
    ("2mini", "--steps", "steps", ["2mini 30", "2mini-turbo 5"]),
    ("step1x", "--octree-resolution", "octree_resolution", ["2mini 256", "step1x 384", "step1x-label 384"]),
], ids=["steps", "octree"])
def test_the_command_line_leaves_the_setting_to_the_model_and_says_each_models_own(shape: str, flag: str, field: str,
                                                                                   own: list[str]) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["generate", str(SUBJECT), "--shape", shape])
    cli.check_arguments(args)
    assert getattr(args.options, field) == 0
    generate = next(action for action in parser._subparsers._group_actions[0].choices["generate"]._actions
                    if flag in action.option_strings)
    assert generate.default == 0 and all(words in generate.help for words in own), generate.help


def test_a_command_line_job_without_steps_records_the_models_own(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", str(SUBJECT), "--models", "tiny", "--device", "cpu", "--out", str(tmp_path),
              "--octree-resolution", "32", "--no-texture")
    assert out.returncode == 0, out.stderr
    [run] = list(tmp_path.iterdir())
    tiny = SHAPE_MODELS[TINY_SHAPE_MODEL]
    assert json.loads((run / "manifest.json").read_text())["options"]["steps"] == tiny.steps


class _Stop(Exception):
    pass


@pytest.mark.parametrize("family, asked, expected", [("hunyuan3d", 0, 256), ("clean", 0, 384), ("clean", 128, 128)])
def test_octree_0_is_the_shape_models_own_before_the_preflight_counts_it(tiny_root: Path, tmp_path: Path, monkeypatch,
                                                                         family: str, asked: int, expected: int) -> None:
    seen: list[int] = []

    def spy(options: JobOptions, *args, **kwargs) -> None:
        seen.append(options.octree_resolution)
        raise _Stop()  # what the preflight was given is all this test needs: nothing runs

    monkeypatch.setattr(preflight, "check_job", spy)
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root, family=family), runs_dir=tmp_path, device="cpu"))
    request = GenerateRequest(id="o", image=str(SUBJECT), targets=[],
                              options=JobOptions(**{**QUICK, "octree_resolution": asked}))
    with pytest.raises(_Stop):
        engine.run(request, Job(id="o", emit=lambda event: None))
    assert seen == [expected]
    assert request.options.octree_resolution == expected  # what the run's manifest then records
