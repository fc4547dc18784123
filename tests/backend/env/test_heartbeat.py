"""Long steps keep talking (issue 66 item 3): a stage that keeps the CPU busy past the heartbeat's
interval says so (stage, seconds so far), on the command line too; a stage that is stuck (a sleeping
failpoint) says nothing, so the add-on's watchdog still stops it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.env import failpoints
from img23d_backend.env.busy_time import busy_seconds
from img23d_backend.env.heartbeat import Heartbeat
from img23d_backend.env.job_control import CancelToken
from img23d_backend.jobs.base import JobRun

pytestmark = pytest.mark.process  # its subject is img23d's processes (pytest.ini)


def test_a_busy_step_beats_and_a_sleeping_one_does_not() -> None:
    said: list[float] = []
    with Heartbeat(said.append, busy_seconds, interval=0.5):
        failpoints.spin(3.0)
    # About every half second (later on a loaded machine: the spin shares the cores).
    assert len(said) >= 2 and said == sorted(said) and 0.4 < said[0] < 2.5
    quiet: list[float] = []
    with Heartbeat(quiet.append, busy_seconds, interval=0.5):
        time.sleep(2.0)
    assert quiet == []  # no CPU used: nothing said, the watchdog would stop it


def test_a_busy_child_process_counts_as_work() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.monotonic()\n"
                              "while time.monotonic()-t<3: sum(range(10000))"])
    try:
        time.sleep(0.5)
        before = busy_seconds()
        time.sleep(1.5)
        # The parent slept: the child's seconds are the work (a share of a core on a loaded machine).
        assert busy_seconds() - before > 0.1
    finally:
        child.kill()
        child.wait(timeout=30)


@pytest.fixture(scope="module")
def slowed_job(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One textured job on the command line with its shape stage and its material step each kept busy on purpose
    past the heartbeat's interval (2 s of work, a beat every 0.5 s), for the two tests that read its log: one
    process and one set of model loads, not two."""
    env = {**os.environ, "IMG23D_TINY_MODELS": str(tiny_root), "IMG23D_FAILPOINTS": "shape:busy:2,materials:busy:2",
           "IMG23D_HEARTBEAT_SECONDS": "0.5", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "img23d_backend", "generate", str(HOUSE), "--targets", "chimney",
                          "--models", "tiny", "--device", "cpu", "--out", str(tmp_path_factory.mktemp("runs")),
                          "--steps", str(FAST_OPTIONS["steps"]), "--octree-resolution",
                          str(FAST_OPTIONS["octree_resolution"]), "--texture-size", "256"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def test_the_command_line_shows_a_slowed_stage_still_working(slowed_job: subprocess.CompletedProcess[str]) -> None:
    lines = [line for line in slowed_job.stderr.splitlines() if "shape: still working" in line]
    assert lines, slowed_job.stderr[-2000:]


def test_the_material_step_after_the_paint_stage_keeps_talking(slowed_job: subprocess.CompletedProcess[str]) -> None:
    """Issue 66 item 3: the material step runs after the paint stage closes; slowed on purpose, it says it
    is still working (before, it ran silent: 60 s here at 2048 px with the tiny models, an hour with the
    real one on a CPU, past the add-on's 600 s watchdog)."""
    lines = [line for line in slowed_job.stderr.splitlines() if "metallic maps for 'chimney': still working" in line]
    assert lines, slowed_job.stderr[-2000:]


def test_a_stages_heartbeat_repeats_the_stages_own_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The heartbeat said step 0 of 1 between a stage's own steps (153 of 201, 0 of 1, 154 of 201): the panel's
    progress bar dropped to nothing and back once a minute."""
    monkeypatch.setenv("IMG23D_HEARTBEAT_SECONDS", "0.2")
    events: list = []
    run = SimpleNamespace(job=SimpleNamespace(id="j", emit=events.append, cancel=CancelToken()),
                          engine=SimpleNamespace(device=torch.device("cpu")), _steps={},
                          run_folder=SimpleNamespace(manifest=SimpleNamespace(timings={}, memory_peaks={}),
                                                     save_manifest=lambda: None))
    run.progress = lambda *said: JobRun.progress(run, *said)
    def shape_steps() -> list[tuple[int, int]]:
        return [(event.step, event.total) for event in list(events) if event.stage == "shape"]

    with JobRun.stage(run, "shape"):
        run.progress("shape", 5, 10, "step 5 of 10")
        # Busy until two heartbeats have come (1.5 s fixed was too short when both lanes loaded the cores).
        deadline = time.monotonic() + 60
        while len(shape_steps()) < 4:
            assert time.monotonic() < deadline, f"no heartbeat in 60 s of a busy step: {shape_steps()}"
            failpoints.spin(0.3)
    steps = shape_steps()
    assert steps[:2] == [(0, 1), (5, 10)] and len(steps) > 2 and set(steps[2:]) == {(5, 10)}, steps
