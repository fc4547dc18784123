"""Choosing the paint model: the command line (and so the add-on, which starts the backend with it)
picks turbo or 2.0, and a job that names no paint steps runs the chosen model's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE
from img23d_backend.commands import cli
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import GenerateRequest, JobOptions, Progress


def _paint_subfolder(*flags: str) -> str:
    args = cli.build_parser().parse_args(["generate", str(HOUSE), "--models", "tiny", *flags])
    cli.check_arguments(args)
    return str(cli._engine(args).settings.models.spec("paint").subfolder)


def test_the_command_line_paints_with_turbo_unless_told_2_0(tiny_root: Path) -> None:
    assert _paint_subfolder() == "hunyuan3d-paint-v2-0-turbo"
    assert _paint_subfolder("--paint", "2.0") == "hunyuan3d-paint-v2-0"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["generate", str(HOUSE), "--paint", "2.1"])
    generate = cli.build_parser()._subparsers._group_actions[0].choices["generate"]  # type: ignore[union-attr]
    steps = next(a for a in generate._actions if "--paint-steps" in a.option_strings)
    assert steps.default == 0 and "2.0-turbo 10" in str(steps.help) and "2.0 30" in str(steps.help)


@pytest.mark.parametrize(("paint", "steps"), [("2.0-turbo", 10), ("2.0", 30)])
def test_a_job_without_paint_steps_runs_the_models_own(tiny_root: Path, tmp_path: Path, paint: str,
                                                       steps: int) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root, paint=paint), runs_dir=tmp_path, device="cpu"))
    events: list = []
    options = {**FAST_OPTIONS, **FAST_PAINT, "paint_steps": 0, "texture_size": 128, "render_size": 128}
    data = engine.run(GenerateRequest(id="t", image=str(HOUSE), targets=[], options=JobOptions(**options)),
                      Job(id="t", emit=events.append))
    assert [t.status for t in data.targets] == ["done"] and data.targets[0].textured
    painting = [e.message for e in events if isinstance(e, Progress) and "painting the views" in e.message]
    assert painting[-1].endswith(f"{steps}/{steps}") and len(painting) == steps
