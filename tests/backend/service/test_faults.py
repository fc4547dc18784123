"""Faults injected into the real backend process: disk, memory, hostile input, security."""

from __future__ import annotations

import ast
import json
import random
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest

from backend_proc import BackendProcess
from img23d_backend.runs.folders import Manifest, RunFolder
from img23d_backend.runs.owner import Owner, folder_prefix
from img23d_backend.service.transfers import UPLOADS_DIR
from testdata import FAST_OPTIONS, HOUSE, REPO

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_b]  # in lane B's share, for the lanes' balance

def _backend(env: dict[str, str], runs: Path, failpoints: str = "") -> BackendProcess:
    proc = BackendProcess({**env, "IMG23D_FAILPOINTS": failpoints}, runs)
    proc.next(lambda e: e["type"] == "hello", timeout=120)
    return proc


def _generate(proc: BackendProcess, job: str, targets=("house", "chimney")) -> dict:
    proc.send({"type": "generate", "id": job, "image": str(HOUSE), "targets": list(targets),
               "options": FAST_OPTIONS})
    return proc.reply(job, timeout=300)


@pytest.mark.fault("backend")
def test_an_unwritable_runs_folder_is_a_disk_error(backend_env, tmp_path: Path, nothing_lost) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    proc = _backend(backend_env, blocker / "runs")
    try:
        reply = _generate(proc, "j1")
        assert reply["type"] == "error" and reply["code"] == "disk"
        assert "cannot create a run folder" in reply["message"]
        assert proc.request({"type": "status", "id": "s"})["data"]["state"] == "idle"
    finally:
        proc.close()


@pytest.mark.fault("backend")
def test_a_disk_that_fills_after_the_first_mesh_closes_the_manifest_listing_it(backend_env, tmp_path: Path,
                                                                               nothing_lost) -> None:
    # The first GLB is written, then the disk has no free byte: not for the second GLB, not for
    # the manifest. The final manifest still says how the job ended and which mesh is there.
    proc = _backend(backend_env, tmp_path, failpoints="write.glb:fill@2")
    try:
        reply = _generate(proc, "j1")
        assert reply["type"] == "error" and reply["code"] == "disk" and "the disk is full" in reply["message"]
        [run] = list(tmp_path.iterdir())
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["status"] == "failed" and manifest["errors"][0]["code"] == "disk"
        assert [(r["target"], r["status"]) for r in manifest["records"]] == [("house", "done"),
                                                                             ("chimney", "pending")]
        assert (run / manifest["records"][0]["mesh"]).is_file() and (run / "crops" / "chimney.png").is_file()
        assert [p.name for p in run.glob("*.glb")] == ["house.glb"]
        assert not list(run.rglob(".tmp-*")) and not list(run.rglob(".img23d-reserve"))
    finally:
        proc.close()
    nothing_lost(tmp_path)


OOM_STAGES = ("grounding", "matting", "shape")


@pytest.fixture(scope="module")
def armed_backend(backend_env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackendProcess, Path, Path]]:
    """One backend for every out-of-memory stage and the listening-socket check: each stage's
    failpoint is inert until its test arms it (a file named for the stage), so one start serves
    the four tests, each job's memory error is raised in the real process, and each test sees the
    backend carry on after the last."""
    root = tmp_path_factory.mktemp("armed")
    armed, runs = root / "armed", root / "runs"
    armed.mkdir()
    env = {**backend_env, "IMG23D_FAILPOINTS_ARMED": str(armed)}
    proc = _backend(env, runs, failpoints=",".join(f"{stage}:oom-armed" for stage in OOM_STAGES))
    try:
        yield proc, armed, runs
    finally:
        proc.close()


@pytest.mark.fault("backend")
@pytest.mark.parametrize("stage", OOM_STAGES)
def test_out_of_memory_at_a_stage_is_reported_and_the_backend_carries_on(armed_backend, stage: str,
                                                                          nothing_lost) -> None:
    proc, armed, runs = armed_backend
    (armed / stage).write_text(f"out of memory at {stage}")
    try:
        reply = _generate(proc, f"oom-at-{stage}")
    finally:
        (armed / stage).unlink()
    assert reply["type"] == "error" and reply["code"] == "out_of_memory", reply
    status = proc.request({"type": "status", "id": f"status-after-{stage}"})
    assert status["data"]["state"] == "idle"
    nothing_lost(runs)  # the reply comes after the engine closed the job's manifest


# "write.glb": killed inside the mesh's write, which leaves a 0-byte .tmp-*.glb behind.
KILL_STAGES = ("load", "grounding", "matting", "shape", "export", "write.glb")


def _status(run: Path) -> str:
    return json.loads((run / "manifest.json").read_text())["status"]


def _owned_folder(parent: Path, owner: Owner) -> Path:
    """A folder named as ``owner``'s backend names its uploads and warm-ups, a file in it."""
    folder = parent / f"{folder_prefix(owner)}0a1b"
    folder.mkdir(parents=True)
    (folder / "picture.png").write_bytes(b"half a picture")
    return folder


@pytest.mark.fault("backend", count=len(KILL_STAGES))
@pytest.mark.lane_a  # its seven backends, about 60 CPU-seconds, in lane A for the lanes' balance (the rest: lane B)
@pytest.mark.timeout(600)  # seven backends one after another: about 105 s quiet, past 300 s at a load average of 10
def test_a_backend_killed_in_each_stage_leaves_a_run_the_next_backend_marks_interrupted(
        backend_env, tmp_path: Path, nothing_lost) -> None:
    """SIGKILL in every stage, one backend after another: each new backend first marks the run
    its killed predecessor left "running" as interrupted, then is itself killed in the next
    stage; the last one, unarmed, marks the last run and still makes a mesh. All the while another
    machine of the same host name (a container with host networking) shares the runs folder, its
    process ids not this one's: every start here marked its live run interrupted, removed the run's
    reserve and deleted its upload in progress. They are left alone, and its job closes its own run."""
    from img23d_backend.service.warmup_job import WARM_UP_DIR  # not at the top: it imports the jobs

    me = Owner.me()
    elsewhere = Owner(me.host, 2**22 + 12345, "0b5e55ed-0000-4000-8000-000000000000/pid:[4026531836]",
                      me.started, me.lease)  # its boot id and pid: that machine's, written as its backend writes
    its_run = RunFolder.create(tmp_path, "house", Manifest(job_id="elsewhere", kind="generate", backend_version="0"))
    its_run.manifest.pid, its_run.manifest.pid_space = elsewhere.pid, elsewhere.pid_space
    its_run.save_manifest()
    its_upload = _owned_folder(tmp_path / UPLOADS_DIR, elsewhere)
    left_running: Path | None = None
    for stage in (*KILL_STAGES, None):
        if stage is None:  # dead, of this machine: the last start's last step removes it, after the runs and uploads
            tidied = _owned_folder(tmp_path / WARM_UP_DIR, Owner(me.host, elsewhere.pid, me.pid_space, 1e9, me.lease))
        proc = _backend(backend_env, tmp_path, failpoints=f"{stage}:kill" if stage else "")
        try:
            if left_running is not None:
                deadline = time.monotonic() + 30
                while _status(left_running) == "running":
                    assert time.monotonic() < deadline, f"{left_running.name} was never marked interrupted"
                    time.sleep(0.1)
                manifest = json.loads((left_running / "manifest.json").read_text())
                assert manifest["status"] == "interrupted"
                assert "stopped while this job ran" in manifest["errors"][-1]["message"]
                # The reserve goes just after the closed manifest is written (it is the room to
                # write it on a full disk): wait for that step too, not only for the status.
                deadline = time.monotonic() + 30
                while leftovers := [p.name for p in left_running.rglob(".*") if p.is_file()]:
                    assert time.monotonic() < deadline, f"killed writes were not cleaned up: {leftovers}"
                    time.sleep(0.1)
            if stage is None:
                deadline = time.monotonic() + 30
                while tidied.exists():
                    assert time.monotonic() < deadline, "the last backend's start never removed a dead warm-up"
                    time.sleep(0.1)
                assert _status(its_run.root) == "running" and (its_run.root / ".img23d-reserve").exists()
                assert (its_upload / "picture.png").read_bytes() == b"half a picture"
                its_run.finish("finished")
                assert _generate(proc, "last", targets=["door"])["type"] == "result"
                break
            before = set(tmp_path.iterdir())
            proc.send({"type": "generate", "id": f"killed-in-{stage}", "image": str(HOUSE), "targets": ["house"],
                       "options": FAST_OPTIONS})
            assert proc.proc.wait(timeout=120) == -9, f"the backend was not killed in {stage}"  # SIGKILL
        finally:
            proc.close()
        [left_running] = set(tmp_path.iterdir()) - before
        assert _status(left_running) == "running", f"killed in {stage}, yet the manifest says how it ended"
        if stage == "write.glb":
            assert [p.stat().st_size for p in left_running.glob(".tmp-*.glb")] == [0]
    nothing_lost(tmp_path)


@pytest.mark.fault("backend")
def test_ten_thousand_hostile_lines_leave_the_server_answering(backend_env, tmp_path: Path, nothing_lost) -> None:
    rng = random.Random(1234)
    templates = [
        {"type": "status", "id": "s"}, {"type": "cancel", "id": "c", "job": "x"},
        {"type": "hello", "role": "client", "protocol": [1, 0]},
        {"type": "generate", "id": "g", "image": str(tmp_path / "missing.png"), "targets": ["a"]},
        {"type": "detect", "id": "d", "image": "", "targets": []},
    ]

    def mutate(text: str) -> str:
        chars = list(text)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            position = rng.randrange(len(chars) + 1)
            if op < 0.4 and chars:
                del chars[min(position, len(chars) - 1)]
            elif op < 0.8:
                chars.insert(position, rng.choice('{}[]":,\\\\0123456789abcnulltruefalse \\t\\u00e9\\U0001f600'))
            else:
                chars[position:position] = list(json.dumps(rng.choice([None, 1e308, -1, "x" * 50, [], {}])))
        return "".join(chars)

    proc = _backend(backend_env, tmp_path)
    try:
        lines = []
        for index in range(10_000):
            kind = rng.random()
            if kind < 0.3:
                raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 120))).replace(b"\n", b" ")
            elif kind < 0.9:
                raw = mutate(json.dumps({"v": 1, **rng.choice(templates)})).encode("utf-8", "replace")
            else:
                raw = json.dumps({"v": rng.choice([1, 2, "1", None]), "type": rng.choice(["status", "x", 5]),
                                  "id": rng.choice(["a", 5, None, []])}).encode()
            lines.append(raw + b"\n")
        for start in range(0, len(lines), 500):
            proc.send(b"".join(lines[start:start + 500]))
        reply = proc.request({"type": "status", "id": "after-fuzz"}, timeout=120)
        assert reply["type"] == "result" and reply["data"]["state"] in ("idle", "busy")
        assert proc.proc.poll() is None and proc.garbage == []
    finally:
        proc.close()
    nothing_lost(tmp_path)


@pytest.mark.fault("backend")
def test_the_backend_opens_no_listening_socket(armed_backend) -> None:
    proc, armed, _ = armed_backend
    assert not any(armed.iterdir()), "a failpoint was left armed"
    assert _generate(proc, "no-socket", targets=["house"])["type"] == "result"  # every model loaded
    process = psutil.Process(proc.proc.pid)
    family = [process, *process.children(recursive=True)]
    listening = [c for p in family for c in p.net_connections(kind="all") if c.status == psutil.CONN_LISTEN]
    inet = [c for p in family for c in p.net_connections(kind="inet")]
    assert listening == [] and inet == []


# --- security, read from the source itself ----------------------------------------------------

SOURCES = sorted((REPO / "backend" / "img23d_backend").rglob("*.py")) + sorted((REPO / "blender_img23d").rglob("*.py"))


def _all_calls():
    assert len(SOURCES) > 20
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                yield path, ast.unparse(node.func), node


def test_no_shell_and_no_string_command_lines() -> None:
    for path, name, node in _all_calls():
        assert name not in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"), \
            f"{path.name}:{node.lineno} runs a shell"
        for keyword in node.keywords:
            if keyword.arg == "shell":
                assert isinstance(keyword.value, ast.Constant) and keyword.value.value is False, \
                    f"{path.name}:{node.lineno} uses shell=True"
        if name.startswith("subprocess.") and node.args:
            assert not isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)), \
                f"{path.name}:{node.lineno} builds a command line as a string"


def test_weights_load_only_as_safetensors_or_weights_only() -> None:
    for path, name, node in _all_calls():
        assert not name.endswith(("pickle.load", "pickle.loads")), f"{path.name}:{node.lineno} unpickles"
        if name == "torch.load":
            flags = {k.arg: k.value for k in node.keywords}
            assert "weights_only" in flags and ast.unparse(flags["weights_only"]) == "True", \
                f"{path.name}:{node.lineno} calls torch.load without weights_only=True"


def test_remote_code_is_trusted_only_at_a_pinned_revision() -> None:
    from img23d_backend import catalog

    trusted = [s for table in (catalog.GROUNDING, catalog.MATTING, catalog.SHAPE) for s in table.values()
               if s.trust_remote_code]
    assert [s.repo_id for s in trusted] == ["ZhengPeng7/BiRefNet", "ZhengPeng7/BiRefNet_HR"]
    assert all(len(s.revision or "") == 40 for s in trusted)
    # Elsewhere the flag may only be passed on from a spec (checked above), never set to True:
    # matting/birefnet/model.py holds the matting specs and their tiny replicas' (the replicas' builders never load
    # what they write).
    for path, name, node in _all_calls():
        if path.parts[-3:] == ("matting", "birefnet", "model.py"):
            continue
        for keyword in node.keywords:
            if keyword.arg == "trust_remote_code":
                assert not (isinstance(keyword.value, ast.Constant) and keyword.value.value is True), \
                    f"{path.name}:{node.lineno} trusts remote code outside a pinned spec"


def test_the_matting_loader_refuses_remote_code_without_a_pin(tmp_path: Path) -> None:
    from img23d_backend.models.registry import ModelSpec
    from img23d_backend.matting.driver import matting_loader

    spec = ModelSpec(role="matting", repo_id="someone/segmenter", trust_remote_code=True, revision=None,
                     options={"matting": "birefnet", "input_size": 1024})  # read by the default model's loader
    with pytest.raises(ValueError, match="pinned revision"):
        matting_loader(spec)(tmp_path, "cpu")
