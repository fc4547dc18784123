"""A link lost, or a backend killed, mid-job over SSH (issue 46, items 5 and 6), against the real ssh
client and the loopback sshd (tests/ssh_host.py), with texture on: the job is held in its paint stage
(the ``paint:hang`` failpoint) while the host's backend runs its UV-unwrap worker and multiprocessing's
resource tracker. Then the link goes, each way it can: nothing of the backend's process tree on the
host is left a few seconds later, the job's sentence says what happened (a link lost, not "could not
connect"; a backend killed by SIGKILL, not "exit code 137"), and the next request reaches a new backend."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import psutil
import pytest

import process_tree
import ssh_host
from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE
from session_waits import pump_until

from img23d_client import process as process_mod
from img23d_client import remote as remote_mod
from img23d_client import session as session_mod

pytestmark = pytest.mark.process  # drives real processes (pytest.ini)
protocol = session_mod.protocol
WAIT = 300.0
GONE_WAIT = 10.0  # from the cut: the host's sshd closes the backend's pipes, the backend ends, then its tree
LOST = ("the connection to img23d-test-host was lost ({why}); what already arrived stays, and the next job "
        "connects again")
KILLED = ("the backend on img23d-test-host was killed by SIGKILL (most often the system's out-of-memory killer: "
          "memory ran out); what already arrived stays, and the next job starts a new backend")


def _session(host, tmp_path: Path):
    remote = remote_mod.RemoteHost(host=ssh_host.ALIAS, python=str(host.python),
                                   runs_dir=str(host.path_for_host("runs-link")), config_file=host.config,
                                   env={**host.env(), "IMG23D_FAILPOINTS": "paint:hang"})
    settings = process_mod.LaunchSettings(python=Path("/not/used/for/ssh"), runs_dir=tmp_path / "mirror",
                                          models="tiny", device="cpu", offline=True, log_path=tmp_path / "backend.log",
                                          remote=remote)
    return session_mod.BackendSession(lambda: settings)


def _host_backends(user: str) -> set[int]:
    return {process.pid for process in psutil.process_iter(["username", "cmdline"])
            if process.info["username"] == user and "img23d_backend" in (process.info["cmdline"] or [])
            and "serve" in (process.info["cmdline"] or [])}


def _until(session, done, what: str, timeout: float = WAIT) -> list:
    return pump_until(session, done, what, timeout)


def _cut(how: str, session, host, backend: int) -> None:
    if how == "ssh here killed":
        os.kill(session.process.pid, signal.SIGKILL)
    elif how == "closed by the host":  # the host's end of this connection goes (sshd's session process)
        [relay] = [parent for parent in psutil.Process(backend).parents() if "@notty" in process_tree.command(parent)]
        relay.kill()
    else:  # "backend killed on the host", as the host's out-of-memory killer would
        os.kill(backend, signal.SIGKILL)


@pytest.mark.fault("addon")
@pytest.mark.parametrize("how, sentence", [
    ("ssh here killed", LOST.format(why="ssh was ended by SIGKILL")),
    ("closed by the host", LOST.format(why="Connection to 127.0.0.1 closed by remote host")),
    ("backend killed on the host", KILLED),
])
def test_a_link_lost_mid_job_leaves_nothing_on_the_host_and_says_what_happened(host, tmp_path: Path, how: str,
                                                                               sentence: str) -> None:
    picture = tmp_path / "house.png"
    shutil.copy(HOUSE, picture)
    session = _session(host, tmp_path)
    before = _host_backends(host.user)
    tree: list[psutil.Process] = []
    try:
        session.start()
        session.wait_ready(timeout=WAIT)
        [backend] = _host_backends(host.user) - before
        options = protocol.JobOptions(**FAST_OPTIONS | FAST_PAINT)
        job = session.submit(protocol.GenerateRequest(image=str(picture), targets=["house"], options=options))
        _until(session, lambda seen: process_tree.with_workers(backend) is not None or not session.job_id,
               "the host's UV worker")
        tree = process_tree.with_workers(backend) or []
        assert tree, f"the job ended before its paint stage: {session.error or session.messages}"
        _cut(how, session, host, backend)
        seen = _until(session, lambda seen: any(isinstance(m, protocol.Error) and m.id == job for m in seen),
                      "the job's error", timeout=60)
        assert process_tree.left_alive(tree, GONE_WAIT) == [], f"the host's backend left processes behind ({how})"
        [error] = [m for m in seen if isinstance(m, protocol.Error) and m.id == job]
        assert error.code == "backend_unavailable"
        assert error.message.split(":\n")[0] == sentence  # a killed backend's log follows the sentence
        again = session.request(protocol.ModelsRequest())
        _until(session, lambda seen: again in session.replies, "the next request, to a new backend")
        assert isinstance(session.take_reply(again), protocol.Result)
    finally:
        process_tree.kill_all(tree)
        session.stop()
