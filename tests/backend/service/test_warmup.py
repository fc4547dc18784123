"""The service readies its heavy libraries (and, if asked, models) right after hello, not in the first job."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from backend_proc import BackendProcess
from testdata import HOUSE
from img23d_backend.service.warmup_job import JOB_ID as WARM_UP_JOB
from img23d_client.session_events import WARM_UP_JOB as CLIENT_WARM_UP_JOB
from img23d_backend.models.manager import ModelManager
from img23d_backend.catalog import tiny_model_set
from img23d_backend.grounding.qwen3_vl.ask import load_grounding
from img23d_backend.matting.driver import matting_loader
from img23d_backend.families.hunyuan3d.family import WARMUP_MODULES as HUNYUAN_MODULES
from img23d_backend.service.warmup import MODULES, modules_for, warm_up

pytestmark = pytest.mark.process  # its subject is img23d's processes (pytest.ini)

WAIT = 180.0
HELD = "grounding:wait:6"  # the warm-up held in its grounding: jobs sent meanwhile wait for it


def test_warm_up_imports_the_libraries_and_loads_what_is_asked(tiny_root: Path) -> None:
    models = tiny_model_set(tiny_root)
    manager = ModelManager(torch.device("cpu"))
    manager.register(models.matting, matting_loader(models.matting))
    manager.register(models.grounding, lambda folder, device: load_grounding(folder, device))
    report = warm_up(manager, preload=("matting", "paint"))
    assert set(report.imported) == set(modules_for(manager)) and all(name in sys.modules for name in MODULES)
    assert report.preloaded == ["matting"] and "paint" in report.failed  # not in this manager
    snapshot = manager.snapshot()["models"]
    assert snapshot["matting"]["tier"] == "device" and snapshot["matting"]["loads_from_disk"] == 1
    assert snapshot["grounding"]["loads_from_disk"] == 0  # only what was asked


def test_hy3dgen_is_warmed_up_for_the_hunyuan_family_only(tiny_root: Path) -> None:
    def modules(family: str) -> tuple[str, ...]:
        manager = ModelManager(torch.device("cpu"))
        models = tiny_model_set(tiny_root, family=family)
        for role in ("shape", "delight", "paint"):
            if getattr(models, role) is not None:
                manager.register(getattr(models, role), lambda folder, device: None)
        return modules_for(manager)

    assert set(HUNYUAN_MODULES) <= set(modules("hunyuan3d"))
    assert not any(name.startswith("hy3dgen") for name in modules("clean"))


def test_the_service_preloads_after_hello_without_a_job(backend_env: dict[str, str], tmp_path: Path) -> None:
    proc = BackendProcess(backend_env, tmp_path / "runs", "--preload", "shape")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while True:
            status = proc.request({"type": "status", "id": "s"}, timeout=WAIT)
            if status["data"]["models"]["models"]["shape"]["tier"] == "device":
                break
            assert time.monotonic() < deadline, "the shape model was never preloaded"
            time.sleep(0.2)
        models = status["data"]["models"]["models"]
        assert status["data"]["state"] == "idle" and models["grounding"]["tier"] == "dropped"
    finally:
        proc.close()


def _warm_up_folders(runs: Path) -> list[Path]:
    root = runs / "_warm-up"
    return sorted(root.iterdir()) if root.is_dir() else []


def _artists_runs(runs: Path) -> list[str]:
    return [run.name for run in runs.iterdir() if (run / "manifest.json").is_file()]


@dataclass
class WarmUpStory:
    """What one ``serve --warm-up`` backend did (its warm-up held 6 s in grounding): a job sent while the warm-up
    ran (``waiting``: the status then) was cancelled (``cancelled``, after ``cancel_seconds``), and the next, sent
    meanwhile too, waited for the warm-up and ran (``second``); ``status`` is the status after it."""

    waiting: dict[str, Any]
    cancelled: dict[str, Any]
    cancel_seconds: float
    second: dict[str, Any]
    status: dict[str, Any]
    runs: list[str]
    house_runs: list[str]
    warm_up_folders: list[Path]
    stderr_lines: list[str]
    seen: list[dict[str, Any]]


@pytest.fixture(scope="module")
def warm_up_story(backend_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> WarmUpStory:
    """One backend's warm-up for the two tests that read it (one start and one warm-up, not two)."""
    runs = tmp_path_factory.mktemp("warm-up") / "runs"
    proc = BackendProcess({**backend_env, "IMG23D_FAILPOINTS": HELD}, runs, "--warm-up")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
        proc.send({"type": "detect", "id": "first", "image": str(HOUSE), "targets": ["house"]})
        # Answered after the job was taken (one request at a time): it waits for the warm-up.
        waiting = proc.request({"type": "status", "id": "while-held"}, timeout=WAIT)["data"]
        asked = time.monotonic()
        proc.send({"type": "cancel", "id": "c1", "job": "first"})
        cancelled = proc.reply("first", timeout=WAIT)
        cancel_seconds = time.monotonic() - asked
        proc.send({"type": "detect", "id": "second", "image": str(HOUSE), "targets": ["house"]})
        second = proc.reply("second", timeout=WAIT)
        status = proc.request({"type": "status", "id": "s"}, timeout=WAIT)["data"]
        return WarmUpStory(waiting=waiting, cancelled=cancelled, cancel_seconds=cancel_seconds, second=second,
                           status=status, runs=_artists_runs(runs),
                           house_runs=[run.name for run in runs.iterdir() if "house_scene" in run.name],
                           warm_up_folders=_warm_up_folders(runs), stderr_lines=list(proc.stderr_lines),
                           seen=list(proc.seen))
    finally:
        proc.close()


def test_serve_warm_up_runs_a_small_job_first_and_reports_its_seconds(warm_up_story: WarmUpStory) -> None:
    """``serve --warm-up`` runs a job on a made-up picture after hello (every chain model loaded, none of its
    run folders kept), says its seconds in the status and the log, and the first real job, sent while it
    runs, waits for it and then reads nothing from disk."""
    story = warm_up_story
    waiting = story.waiting
    assert waiting["warm_up"]["state"] in ("waiting", "running") and waiting["job"] == "first", waiting
    assert story.second["type"] == "result" and story.second["ok"], story.second
    assert story.status["warm_up"]["state"] == "done" and story.status["warm_up"]["seconds"] > 0, story.status
    loads = {role: model["loads_from_disk"] for role, model in story.status["models"]["models"].items()}
    assert {role: loads[role] for role in ("grounding", "matting", "shape", "paint")} == dict.fromkeys(
        ("grounding", "matting", "shape", "paint"), 1)  # the job read nothing: the warm-up had
    assert story.runs == story.house_runs and len(story.runs) == 1  # the artist's run alone
    assert any("warm-up job on a made-up picture: done in" in line for line in story.stderr_lines)
    # The add-on's note: the warm-up's last event, with its seconds; the waiting job said why it waited.
    [note] = [e for e in story.seen if e["type"] == "progress" and e["job"] == WARM_UP_JOB and e["step"] == 1]
    assert note["message"].startswith("warm-up done in ") and WARM_UP_JOB == CLIENT_WARM_UP_JOB


def test_a_job_cancelled_during_the_warm_up_ends_at_once_and_the_next_is_taken(warm_up_story: WarmUpStory) -> None:
    """Cancelled while it waits for a slow warm-up (its grounding held 6 s): the job ends within a
    second, and the next job is taken (not refused busy), waiting for the warm-up in its turn."""
    story = warm_up_story
    assert story.cancelled["type"] == "error" and story.cancelled["code"] == "cancelled", story.cancelled
    assert story.cancel_seconds < 3.0, "the cancelled job waited for the warm-up"
    assert story.second["type"] == "result" and story.second["ok"], story.second
    # Nothing of the warm-up is among the artist's runs, and its folder went when it ended.
    assert story.runs == story.house_runs and len(story.runs) == 1
    assert story.warm_up_folders == []


def _wait_for_its_warm_up_run(runs: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not any(folder.glob("*/manifest.json") for folder in _warm_up_folders(runs)):
        assert time.monotonic() < deadline, "the warm-up never made its run"
        time.sleep(0.1)


def test_a_backend_stopped_or_killed_during_the_warm_up_leaves_no_run_and_no_folder(backend_env: dict[str, str],
                                                                                    tmp_path: Path) -> None:
    """Killed during its warm-up, a backend cannot remove its warm-up's folder: the next backend does as it starts,
    and lists no interrupted run of warm-up.png; stopped (shutdown) during its own warm-up, that one removes its
    folder as it stops."""
    env = {**backend_env, "IMG23D_FAILPOINTS": HELD}
    runs = tmp_path / "runs"
    proc = BackendProcess(env, runs, "--warm-up")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
        _wait_for_its_warm_up_run(runs)
        proc.proc.kill()
        proc.proc.wait(timeout=30)
    finally:
        proc.close()
    [left] = _warm_up_folders(runs)   # a killed backend cannot remove it: the next one does
    proc = BackendProcess(env, runs, "--warm-up")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while left.exists():
            assert time.monotonic() < deadline, "the killed backend's warm-up folder was never removed"
            time.sleep(0.1)
        runs_listed = proc.request({"type": "runs", "id": "r"}, timeout=WAIT)["data"]
        assert runs_listed["runs"] == [], runs_listed   # no interrupted run of warm-up.png
        _wait_for_its_warm_up_run(runs)   # its own, held in its grounding
        proc.send({"type": "shutdown", "id": "bye"})
        proc.proc.wait(timeout=30)
        assert _warm_up_folders(runs) == []   # removed as it stopped
    finally:
        proc.close()
