"""A real Ray cluster on 127.0.0.1 for the batch tests: ``ray start --head --block`` in a process
group of its own, with DESIGN's settings (every Ray process binds and advertises 127.0.0.1, and
refuses a driver without the cluster's token), stopped by that process group, never by name.

The workers import the backend from this checkout (``PYTHONPATH``), load the tiny models, and
run one thread each; the environment given to ``start`` is also what a driver needs to join.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
TERM_WAIT = 4.0      # Ray's head takes its time over SIGTERM; then the group gets SIGKILL


def available() -> str | None:
    """Why a Ray head cannot be started here, or None when it can."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "needs Ray (the backend's optional extra; requirements-py313.txt installs it)"
    if os.name != "posix":
        return "needs a POSIX system (process groups)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RayHead:
    address: str
    env: dict[str, str]           # a driver's environment: the same token, loopback only
    proc: subprocess.Popen
    temp: Path
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, env: dict[str, str], num_cpus: int) -> "RayHead":
        # Ray's unix sockets live under the temp dir: a short path (sun_path holds 107 bytes).
        temp = Path(tempfile.mkdtemp(prefix="img23d-ray-", dir="/tmp"))
        port = _free_port()
        env = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
               "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
        ray = Path(sys.executable).with_name("ray")
        log = temp / "head.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(ray), "start", "--head", "--block", f"--port={port}", f"--num-cpus={num_cpus}", "--num-gpus=0",
                 "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp / 'ray'}",
                 f"--dashboard-agent-listen-port={_free_port()}"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        head = cls(address=f"127.0.0.1:{port}", env=env, proc=proc, temp=temp, log=log)
        deadline = time.monotonic() + START_TIMEOUT
        while "This command will now block" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace")[-3000:]
                head.stop()
                raise RuntimeError(f"the Ray head did not start within {START_TIMEOUT:g} s:\n{text}")
            time.sleep(0.5)
        return head

    def stop(self) -> None:
        """Stop the head and everything it started: its process group, politely, then by SIGKILL."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + TERM_WAIT
        while time.monotonic() < deadline and _group_alive(self.proc.pid):
            self.proc.poll()
            time.sleep(0.3)
        if _group_alive(self.proc.pid):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
            time.sleep(1)
        self.proc.poll()
        if _group_alive(self.proc.pid):
            raise RuntimeError(f"the Ray head's process group {self.proc.pid} is still alive after SIGKILL")
        shutil.rmtree(self.temp, ignore_errors=True)


def group_of(pid: int) -> int | None:
    """The process group of ``pid`` (None when it is gone)."""
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def _group_alive(pgid: int) -> bool:
    """Any process of the group that is not a zombie."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False
