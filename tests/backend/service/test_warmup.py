"""The service readies its heavy libraries (and, if asked, models) right after hello, not in the first job."""

from __future__ import annotations

import sys
import time
from pathlib import Path

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
        assert status["data"]["state"] == "idle" and status["data"]["models"]["models"]["grounding"]["tier"] == "dropped"
    finally:
        proc.close()


def test_serve_warm_up_runs_a_small_job_first_and_reports_its_seconds(backend_env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    """``serve --warm-up`` runs a job on a made-up picture after hello (every chain model loaded, none of its
    run folders kept), says its seconds in the status and the log, and the first real job, sent while it
    runs, waits for it and then reads nothing from disk."""
    runs = tmp_path / "runs"
    proc = BackendProcess(backend_env, runs, "--warm-up")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
        proc.send({"type": "detect", "id": "first", "image": str(HOUSE), "targets": ["house"]})
        reply = proc.reply("first", timeout=WAIT)
        assert reply["type"] == "result" and reply["ok"], reply
        status = proc.request({"type": "status", "id": "s"}, timeout=WAIT)["data"]
        assert status["warm_up"]["state"] == "done" and status["warm_up"]["seconds"] > 0, status["warm_up"]
        loads = {role: model["loads_from_disk"] for role, model in status["models"]["models"].items()}
        assert {role: loads[role] for role in ("grounding", "matting", "shape", "paint")} == dict.fromkeys(
            ("grounding", "matting", "shape", "paint"), 1)  # the first job read nothing: the warm-up had
        assert [run.name for run in runs.iterdir() if (run / "manifest.json").is_file()] == [
            next(run.name for run in runs.iterdir() if "house_scene" in run.name)]  # the artist's run alone
        assert any("warm-up job on a made-up picture: done in" in line for line in proc.stderr_lines)
        # The add-on's note: the warm-up's last event, with its seconds; the waiting job said why it waited.
        [note] = [e for e in proc.seen if e["type"] == "progress" and e["job"] == WARM_UP_JOB and e["step"] == 1]
        assert note["message"].startswith("warm-up done in ") and WARM_UP_JOB == CLIENT_WARM_UP_JOB
    finally:
        proc.close()


def _warm_up_folders(runs: Path) -> list[Path]:
    root = runs / "_warm-up"
    return sorted(root.iterdir()) if root.is_dir() else []


def test_a_job_cancelled_during_the_warm_up_ends_at_once_and_the_next_is_taken(backend_env: dict[str, str],
                                                                               tmp_path: Path) -> None:
    """Cancelled while it waits for a slow warm-up (its grounding held 6 s): the job ends within a
    second, and the next job is taken (not refused busy), waiting for the warm-up in its turn."""
    env = {**backend_env, "IMG23D_FAILPOINTS": "grounding:wait:6"}
    runs = tmp_path / "runs"
    proc = BackendProcess(env, runs, "--warm-up")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
        proc.send({"type": "detect", "id": "first", "image": str(HOUSE), "targets": ["house"]})
        time.sleep(0.5)
        asked = time.monotonic()
        proc.send({"type": "cancel", "id": "c1", "job": "first"})
        reply = proc.reply("first", timeout=WAIT)
        assert reply["type"] == "error" and reply["code"] == "cancelled", reply
        assert time.monotonic() - asked < 3.0, "the cancelled job waited for the warm-up"
        proc.send({"type": "detect", "id": "second", "image": str(HOUSE), "targets": ["house"]})
        reply = proc.reply("second", timeout=WAIT)
        assert reply["type"] == "result" and reply["ok"], reply
        # Nothing of the warm-up is among the artist's runs, and its folder went when it ended.
        assert [run.name for run in runs.iterdir() if (run / "manifest.json").is_file()] == [
            next(run.name for run in runs.iterdir() if "house_scene" in run.name)]
        assert _warm_up_folders(runs) == []
    finally:
        proc.close()


def test_a_backend_stopped_or_killed_during_the_warm_up_leaves_no_run_and_no_folder(backend_env: dict[str, str],
                                                                                    tmp_path: Path) -> None:
    env = {**backend_env, "IMG23D_FAILPOINTS": "grounding:wait:6"}
    runs = tmp_path / "runs"
    for ending in ("shutdown", "kill"):
        proc = BackendProcess(env, runs, "--warm-up")
        try:
            proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
            deadline = time.monotonic() + WAIT
            while not any(folder.glob("*/manifest.json") for folder in _warm_up_folders(runs)):
                assert time.monotonic() < deadline, "the warm-up never made its run"
                time.sleep(0.1)
            if ending == "shutdown":
                proc.send({"type": "shutdown", "id": "bye"})
                proc.proc.wait(timeout=30)
                assert _warm_up_folders(runs) == []   # removed as it stopped
            else:
                proc.proc.kill()
                proc.proc.wait(timeout=30)
                assert _warm_up_folders(runs)   # a killed backend cannot: the next one does
        finally:
            proc.close()
    proc = BackendProcess(backend_env, runs)
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while _warm_up_folders(runs):
            assert time.monotonic() < deadline, "the killed backend's warm-up folder was never removed"
            time.sleep(0.1)
        runs_listed = proc.request({"type": "runs", "id": "r"}, timeout=WAIT)["data"]
        assert runs_listed["runs"] == [], runs_listed   # no interrupted run of warm-up.png
    finally:
        proc.close()
