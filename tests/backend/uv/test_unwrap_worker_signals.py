"""The UV unwrap's worker process ignores Ctrl-C (issue 66) and a hang-up (issue 88): the terminal's SIGINT and
SIGHUP reach the whole process group, the job's process cancels and kills the worker itself, so the worker must not
print its own KeyboardInterrupt traceback in the paint step, nor die under the job."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from img23d_backend.uv.unwrap import worker_start

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_c]  # in lane C all the same, for the lanes' balance


def _interrupted(signum: int) -> str:
    os.kill(os.getpid(), signum)  # as a Ctrl-C or a closed terminal's hang-up reaches every process of the group
    time.sleep(0.2)
    return "carried on"


def test_the_unwrap_worker_ignores_ctrl_c_and_a_hang_up() -> None:
    """A hang-up (issue 88) killed the worker under the job, which the job's process cancels itself; one worker
    takes both signals in turn."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=worker_start) as pool:
        assert pool.submit(_interrupted, signal.SIGINT).result(timeout=60) == "carried on"
        assert pool.submit(_interrupted, signal.SIGHUP).result(timeout=60) == "carried on"
