"""A Generate is refused as long by the figure its estimate line says (every stage, ``jobs/job_estimate.py``), not by
completion and materials alone (``protocol job_cost``): the refusal let through a job whose estimate line said
75 minutes, its paint the largest part. The tiny set's engine on this CPU, nothing loaded, the probe pinned so the
whole estimate lands where the test needs it (every figure is seconds over the probe)."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.catalog import tiny_model_set
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.jobs.kinds.job_estimate import generate_estimate
from img23d_backend.models import throughput
from img23d_protocol import (LONG_JOB_SECONDS, ErrorCode, EstimateRequest, GenerateRequest, JobOptions, ProtocolError,
                             duration, job_cost)

GFLOPS = 100.0


def _pin(monkeypatch: pytest.MonkeyPatch, gflops: float) -> None:
    for dtype in ("float32", "bfloat16", "float16"):
        monkeypatch.setitem(throughput._measured, ("cpu", dtype), throughput.Throughput("cpu", dtype, gflops))


def _request(accept_long: bool = False) -> GenerateRequest:
    return GenerateRequest(id="long", image="house.png", targets=["house", "barrel"],
                           options=JobOptions(texture=True, materials=True, complete_hidden="never",
                                              accept_long=accept_long))


def test_the_refusal_names_the_minutes_the_estimate_line_says(
        tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    _pin(monkeypatch, GFLOPS)
    request = _request()
    at_pin = generate_estimate(GenerateRun(engine, request, Job(id="e", emit=lambda event: None), None)).total_s
    # A CPU slow enough that the whole job is 75 minutes: its paint and the rest past the hour, its materials not.
    _pin(monkeypatch, GFLOPS * at_pin / (1.25 * LONG_JOB_SECONDS))
    line = generate_estimate(GenerateRun(engine, request, Job(id="e", emit=lambda event: None), None))
    assert line.total_s == pytest.approx(1.25 * LONG_JOB_SECONDS, rel=0.01)
    slow_steps = job_cost(engine.step_costs(request), 2, completion=False, materials=True)
    assert slow_steps is not None and not slow_steps.long  # what the refusal weighed before: it let this job through
    with pytest.raises(ProtocolError) as refused:
        GenerateRun.refuse_long(request, engine)
    message = refused.value.message
    assert refused.value.code is ErrorCode.LONG_JOB_NOT_ACCEPTED
    assert message == (f"this job would take hours: {line.sentence()}: tick Accept Long Job in the add-on or pass "
                       "--accept-long on the command line to start it anyway, or make it lighter (fewer names or "
                       "variations, a smaller texture, completion or materials off)")
    assert f"{duration(line.total_s)} on this CPU (" in message and "paint about " in message
    GenerateRun.refuse_long(_request(accept_long=True), engine)   # accepted: it starts
    # Just under the hour by the same figure: it starts without a word.
    _pin(monkeypatch, GFLOPS * at_pin / (0.95 * LONG_JOB_SECONDS))
    GenerateRun.refuse_long(request, engine)


def test_the_estimate_request_is_answered_by_the_figure_the_generate_is_weighed_by(
        tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(1.29) What the add-on asks before it sends (``Engine.estimate``) is the estimate the Generate of the same
    fields is refused by, stage for stage, on either side of the hour: the add-on's check and the backend's cannot
    disagree. Nothing is read (the picture named does not exist) and nothing written."""
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    _pin(monkeypatch, GFLOPS)
    request = _request()
    asked = engine.estimate(EstimateRequest.of(request))
    weighed = generate_estimate(GenerateRun(engine, request, Job(id="e", emit=lambda event: None), None))
    assert asked == weighed and not asked.long and [stage.stage for stage in asked.stages][-1] == "export"
    _pin(monkeypatch, GFLOPS * asked.total_s / (1.25 * LONG_JOB_SECONDS))   # the same job, now 75 minutes
    asked = engine.estimate(EstimateRequest.of(request))
    assert asked.long
    with pytest.raises(ProtocolError) as refused:
        GenerateRun.refuse_long(request, engine)
    assert refused.value.message == asked.refusal()
    assert not (tmp_path / "runs").exists()
