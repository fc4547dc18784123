"""The far side ends with the connection (issue 34, item 5), against the real ssh client and the
loopback sshd (tests/ssh_host.py), whose ``ClientAliveInterval`` is OpenSSH's default, 0: sshd
never checks that its client is still there. The client vanishes without closing the connection
(its ssh is stopped, as a laptop that sleeps or a cable pulled out would leave it); the backend
on the host must end by itself, freeing the GPU, and must not while its client is merely quiet."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import ssh_host

from img23d_client import process as process_mod
from img23d_client import session as session_mod
from img23d_client import remote as remote_mod

pytestmark = pytest.mark.process  # drives real processes (pytest.ini)
HELLO_WAIT = 180.0
# The client's keep-alive interval and the time without a line after which the backend ends: five
# keep-alives to each limit, as the add-on's defaults leave 4.5, so a loaded machine that delays a
# few still keeps the backend; short, as the test waits out the limit twice.
KEEPALIVE, CLIENT_TIMEOUT = 1.0, 5.0


def _backends_on_host(user: str) -> set[int]:
    listing = subprocess.run(["ps", "-u", user, "-o", "pid=,args="], capture_output=True, text=True, timeout=30).stdout
    return {int(line.split()[0]) for line in listing.splitlines() if "img23d_backend serve" in line}


def test_a_backend_whose_client_vanished_ends_by_itself_without_client_alive(host, tmp_path: Path) -> None:
    remote = remote_mod.RemoteHost(host=ssh_host.ALIAS, python=str(host.python),
                                   runs_dir=str(host.path_for_host("runs")), config_file=host.config, env=host.env())
    settings = process_mod.LaunchSettings(python=Path("/not/used/for/ssh"), runs_dir=tmp_path / "mirror",
                                          models="tiny", device="cpu", offline=True, log_path=tmp_path / "backend.log",
                                          remote=remote, keepalive_seconds=KEEPALIVE, client_timeout_seconds=CLIENT_TIMEOUT)
    session = session_mod.BackendSession(lambda: settings)
    before = _backends_on_host(host.user)
    ssh_pid = None
    try:
        session.start()
        session.wait_ready(timeout=HELLO_WAIT)
        ssh_pid = session.process.pid
        [backend] = _backends_on_host(host.user) - before
        time.sleep(1.5 * CLIENT_TIMEOUT)  # quiet, but the keep-alive says the client is there: the backend stays
        assert backend in _backends_on_host(host.user), "the backend ended although its client was there"
        os.kill(ssh_pid, signal.SIGSTOP)  # the client vanishes; the connection stays open
        deadline = time.monotonic() + 60.0
        while backend in _backends_on_host(host.user):
            assert time.monotonic() < deadline, "the backend outlived its lost client by a minute"
            time.sleep(0.25)
    finally:
        if ssh_pid is not None:
            os.kill(ssh_pid, signal.SIGCONT)
        session.stop()
