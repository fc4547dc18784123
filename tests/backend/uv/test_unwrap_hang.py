"""Issue 58 item 4: a hung UV unwrap. Its worker is killed on cancel (the command (retexture, retopo) exits with the
cancelled sentence and leaves no worker), and an unwrap past its time bound is killed with one sentence.
The hang is the ``unwrap.worker`` failpoint, in the worker itself."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import trimesh
from img23d_protocol import ErrorCode, ProtocolError

from process_tree import WORKER, command, kill_all, left_alive, with_workers
from testdata import SUBJECT
from img23d_backend.env.job_control import CancelToken
from img23d_backend.uv import unwrap
from img23d_backend.uv.unwrap import Unwrapper

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_c]  # in lane C all the same, for the lanes' balance

START_WAIT = 120.0   # seconds for the command to reach its unwrap (its start-up and the tiny matting model)
END_WAIT = 10.0      # seconds the process and its worker may take to end once told to


def _workers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if WORKER in command(p)]


def _hung_unwrapper(monkeypatch: pytest.MonkeyPatch, cancel: CancelToken, limit: float) -> Unwrapper:
    monkeypatch.setenv("IMG23D_FAILPOINTS", "unwrap.worker:hang")  # the spawned worker inherits it...
    unwrap.WORKER.drop()  # ...when it starts: the process's worker of an earlier test has not
    unwrapper = Unwrapper(cancel, limit=lambda faces: limit)
    mesh = trimesh.creation.icosphere(subdivisions=1)
    unwrapper.submit("ball", mesh.vertices, mesh.faces)
    return unwrapper


def test_a_cancel_kills_the_hung_unwrap_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    cancel = CancelToken()
    with _hung_unwrapper(monkeypatch, cancel, limit=600.0) as unwrapper:
        threading.Timer(1.0, cancel.cancel).start()
        started = time.monotonic()
        with pytest.raises(ProtocolError) as caught:
            unwrapper.result("ball")
        assert caught.value.code == ErrorCode.CANCELLED
        assert time.monotonic() - started < END_WAIT, "the cancelled wait did not end"
        workers = _workers()
    assert workers == [], f"the hung worker outlived the cancel: {[w.pid for w in workers]}"


def test_an_unwrap_past_its_time_is_killed_with_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    with _hung_unwrapper(monkeypatch, CancelToken(), limit=1.0) as unwrapper:
        started = time.monotonic()
        with pytest.raises(ProtocolError) as caught:
            unwrapper.result("ball")
        assert time.monotonic() - started < END_WAIT, "the time bound did not end the wait"
        assert _workers() == [], "the worker past its time was not killed"
    assert caught.value.code == ErrorCode.BAD_REQUEST
    assert caught.value.message.startswith("the UV unwrap of 80 faces did not end within 1 s")
    assert caught.value.message.count(".") <= 1 and "\n" not in caught.value.message


@pytest.mark.parametrize("command", ["retexture", "retopo"])
def test_ctrl_c_ends_a_command_hung_in_its_unwrap(backend_env: dict[str, str], tmp_path: Path, command: str) -> None:
    mesh = tmp_path / "ball.glb"
    trimesh.creation.icosphere(subdivisions=2).export(mesh)  # no UVs: Re-texture unwraps it (retopo's bake always does)
    out = tmp_path / "runs"
    env = {**backend_env, "IMG23D_FAILPOINTS": "unwrap.worker:hang"}
    args = ([str(SUBJECT), "--models", "tiny", "--texture-size", "256", "--paint-steps", "2", "--delight-steps", "2",
             "--no-materials"] if command == "retexture" else ["--topology", "triangles", "--faces", "200"])
    proc = subprocess.Popen([sys.executable, "-m", "img23d_backend", command, str(mesh), *args, "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree = None  # stderr is read once the process ended: what it writes first is a few lines
    try:
        deadline = time.monotonic() + START_WAIT
        while (tree := with_workers(proc.pid)) is None:
            assert proc.poll() is None, f"{command} ended ({proc.returncode}) before its unwrap worker started"
            assert time.monotonic() < deadline, f"no unwrap worker under {command} within {START_WAIT:g} s"
            time.sleep(0.1)
        time.sleep(1.0)  # the worker is in its hang
        proc.send_signal(signal.SIGINT)
        try:
            _, text = proc.communicate(timeout=END_WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command} still ran {END_WAIT:g} s after Ctrl-C in a hung unwrap")
        assert proc.returncode == 130, text[-2000:]
        assert left_alive(tree, within=END_WAIT) == [], "the unwrap's worker outlived the command"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if tree is not None:
            kill_all(tree)
    assert "Traceback" not in text and "[cancelled]" in text, text[-2000:]
    [manifest] = [json.loads(p.read_text()) for p in out.glob("*/manifest.json")]
    assert manifest["status"] == "cancelled"
