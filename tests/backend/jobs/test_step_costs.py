"""The slow optional steps' cost, said before a job starts (issue 54, item 10): the backend measures its
device's speed once, its hello carries what one object costs there, and a job that would take hours
is refused with one sentence naming the estimate and the flag, unless it was accepted. The failpoint
``throughput:slow`` stands for a CPU a million times slower, through the same probe."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.commands import cli
from img23d_backend.jobs.engine import Engine, EngineSettings
from img23d_backend.models import step_costs, throughput
from img23d_backend.editors import costs as editor_costs
from img23d_backend.editors.table import EDITOR_ROWS
from img23d_backend.catalog import model_set, tiny_model_set
from img23d_protocol import LONG_JOB_SECONDS, StepCosts, job_cost

SLOW = "throughput:slow"
# Completion always (every name is completed) on two names, untextured: the tiny editor's step, quickly
# (the fast test settings' shape; the refusal weighs the whole job's estimate, every stage).
COMPLETING = ["generate", str(HOUSE), "--targets", "house, barrel", "--models", "tiny", "--device", "cpu",
              "--complete-hidden", "always", "--no-texture", "--steps", str(FAST_OPTIONS["steps"]),
              "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--face-budget", str(FAST_OPTIONS["face_budget"])]


def test_the_hello_carries_what_one_object_costs_on_this_device(tiny_root: Path, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    costs = StepCosts.from_dict(engine.describe()["costs"])
    assert costs is not None and costs.on_cpu and costs.device.startswith("this CPU (")
    assert costs.edit_pixels == 96 * 96  # the tiny editor's own area
    assert costs.completion_seconds() > 0 and costs.materials_s > 0


def test_a_slow_device_refuses_a_long_job_in_one_sentence_naming_the_estimate_and_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IMG23D_FAILPOINTS", SLOW)
    code = cli.main([*COMPLETING, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    # A refusal before anything ran exits 2, as a wrong command line does (docs/cli.md): 1 is a failed job's, with
    # a run folder whose manifest says why, and there is none.
    assert code == 2 and len(err.splitlines()) == 1, err
    # The whole job's estimate, every stage as its estimate line would say it (completion among them).
    assert err.startswith("error: this job would take hours: about ") and ", matting about " in err
    assert ", completion about " in err and " h, depth about " in err
    assert "on this CPU (" in err and "pass --accept-long on the command line to start it anyway" in err
    assert "[long_job_not_accepted]" in err
    assert not any(tmp_path.iterdir())  # refused before anything was made or loaded


def test_accepted_it_runs_and_a_fast_device_runs_without_a_word(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IMG23D_FAILPOINTS", SLOW)
    assert cli.main([*COMPLETING, "--out", str(tmp_path / "accepted"), "--accept-long"]) == 0
    assert "hours" not in capsys.readouterr().err
    monkeypatch.delenv("IMG23D_FAILPOINTS")
    assert cli.main([*COMPLETING, "--out", str(tmp_path / "fast")]) == 0
    captured = capsys.readouterr()
    assert "hours" not in captured.err + captured.out and "barrel: completed" in captured.out


def test_the_probe_is_measured_once_per_process_and_the_failpoint_reads_through_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = throughput.probe(torch.device("cpu"), torch.float32)
    assert first.gflops > 0.1 and first is throughput.probe(torch.device("cpu"), torch.float32)
    monkeypatch.setenv("IMG23D_FAILPOINTS", SLOW)
    slow = throughput.probe(torch.device("cpu"), torch.float32)
    assert slow.gflops == pytest.approx(first.gflops / throughput.SLOW_FACTOR)


def test_the_estimate_reproduces_the_benchmark_it_was_derived_from() -> None:
    """At the benchmark's speed and size, the editor's terms give back the benchmark's measured completion
    (its phases, its own 4 steps), and twice the side costs more than twice the time (four times the picture's
    tokens beside the instruction's 512; the 512 px run measured 2.4 times the 256 px one:
    tests/backend/editors/test_completion_figures.py)."""
    work, bench = editor_costs.measured()
    terms = editor_costs.editor_seconds(work, bench.gflops)
    costs = StepCosts(device="the benchmark's CPU", edit_pixels=1024 * 1024, **terms)
    side = int(bench.pixels ** 0.5)
    measured = bench.encode_s + bench.rematte_s + bench.vae_s + work.passes * bench.step_s
    assert costs.completion_seconds(side) == pytest.approx(measured, rel=0.02)
    assert costs.completion_seconds(2 * side) > 2 * costs.completion_seconds(side)
    # The larger editor (20B, 40 guided steps) costs far more at the same area.
    qwen = StepCosts(edit_pixels=1024 * 1024, **editor_costs.editor_seconds(
        EDITOR_ROWS["qwen-image-edit-2511"].work, bench.gflops))
    assert qwen.completion_seconds(side) > 20 * costs.completion_seconds(side)


def test_the_hello_prices_the_editor_the_set_names() -> None:
    """A real set's large editor is priced as itself, not as the default editor (the hello told its
    users the 20B editor's time as FLUX.2 [klein]'s: its id was looked for in lower case)."""
    def hello_costs(editor: str) -> StepCosts:
        engine = Engine(EngineSettings(models=model_set("default", editor=editor), runs_dir=Path("unused"),
                                       device="cpu"))
        return engine.step_costs()

    default, large = hello_costs("flux2-klein-4b"), hello_costs("qwen-image-edit-2511")
    assert large.completion_seconds(1024) > 20 * default.completion_seconds(1024)


def test_a_job_is_long_from_an_hour_and_counts_each_names_candidates_for_materials() -> None:
    costs = StepCosts(device="this CPU (test)", on_cpu=True, edit_pixels=1024 * 1024, completion_fixed_s=100.0,
                      completion_per_mp_s=1000.0, completion_per_mp2_s=0.0, materials_s=900.0)
    three = job_cost(costs, 3, completion=False, materials=True)
    assert three.materials_s == 2700.0 and not three.long
    four = job_cost(costs, 4, completion=False, materials=True)
    assert four.total_s == LONG_JOB_SECONDS and four.long
    assert job_cost(costs, 2, completion=False, materials=True, variations=2).materials_objects == 4
    both = job_cost(costs, 2, completion=True, materials=True, edit_size=512, up_to=True)
    assert both.completion_s == pytest.approx(2 * (100.0 + 1000.0 * 512 * 512 / 1e6))
    assert both.summary().startswith("completing hidden objects up to about ")
