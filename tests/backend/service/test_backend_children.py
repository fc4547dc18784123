"""No process of the backend's outlives it (issue 46, item 5): the real service, held in a textured
job's paint stage (the ``paint:hang`` failpoint) while its UV-unwrap worker and multiprocessing's
resource tracker are alive, is ended each way it can end here; within seconds nothing of its process
tree is left. The SSH road (a link killed mid-job) is in tests/addon/test_remote_link_lost.py."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

import process_tree
from backend_proc import BackendProcess
from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_c]  # in lane C all the same, for the lanes' balance

START_WAIT = 300.0  # hello and the job up to its paint stage, with the tiny models on a busy machine
GONE_WAIT = 5.0     # "within a few seconds"
EXIT_WAIT = 30.0    # the backend itself, once told to end


def tree_while_painting(proc: BackendProcess) -> list[psutil.Process]:
    """Start a textured job held in its paint stage; the backend's process tree once its UV worker
    runs (the unwrap is submitted before the paint stage begins)."""
    proc.send({"type": "generate", "id": "held", "image": str(HOUSE), "targets": ["house"],
               "options": {**FAST_OPTIONS, **FAST_PAINT}})
    deadline = time.monotonic() + START_WAIT
    while (tree := process_tree.with_workers(proc.proc.pid)) is None:
        assert proc.proc.poll() is None, f"the backend ended early: {''.join(proc.stderr_lines[-20:])}"
        assert time.monotonic() < deadline, (f"no UV worker within {START_WAIT:.0f} s; events: {proc.seen[-3:]}; "
                                             f"stderr: {''.join(proc.stderr_lines[-20:])}")
        try:
            proc.next(lambda event: False, timeout=0.2)  # keeps what came in ``seen``
        except TimeoutError:
            pass
    return tree


@pytest.mark.fault("backend")
@pytest.mark.parametrize("ending", ["stdin closed", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_the_backends_workers_end_with_it(backend_env, tmp_path: Path, ending: str) -> None:
    proc = BackendProcess({**backend_env, "IMG23D_FAILPOINTS": "paint:hang"}, tmp_path)
    tree: list[psutil.Process] = []
    try:
        proc.next(lambda event: event["type"] == "hello", timeout=START_WAIT)
        tree = tree_while_painting(proc)
        if ending == "stdin closed":
            proc.proc.stdin.close()
        else:
            proc.proc.send_signal(getattr(signal, ending))
        try:
            proc.proc.wait(timeout=EXIT_WAIT)
        except subprocess.TimeoutExpired:
            # Seen twice, under three lanes' load (2026-11-26, SIGTERM; 2026-11-27, SIGHUP, its job in the
            # cleanup stage): say what the backend was doing, every thread's stack (SIGUSR1) included.
            proc.proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            pytest.fail(f"the backend did not end within {EXIT_WAIT:.0f} s of {ending}; its last events "
                        f"{proc.seen[-3:]}; stderr: {''.join(proc.stderr_lines[-120:])}")
        assert process_tree.left_alive(tree, GONE_WAIT) == [], f"the backend's children outlived it ({ending})"
    finally:
        process_tree.kill_all(tree[1:])  # its children, should they be left: the backend is proc's
        proc.close()
