"""The local pool's end (batch/local.py): a worker still starting when the batch is done (the replacement for one
that died or ran past the limit on the last pictures) has no picture and is ended at once, as the Ray pool ends its
starting actors; one that has started is asked to stop and ends by itself. Before, the batch's end waited for the
starting worker to import torch and load every model, then stop."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from img23d_backend.batch.local import LocalPool
from img23d_backend.batch.items import WorkerSettings
from img23d_backend.session import Models

START_TIMEOUT = 180.0  # a worker's start (torch's import and the tiny models) on a loaded 2-core machine


def test_a_worker_still_starting_at_the_end_is_ended_and_a_started_one_stops_by_itself(tiny_root: Path,
                                                                                      tmp_path: Path) -> None:
    settings = WorkerSettings(Models(models="tiny", device="cpu"), out=tmp_path, threads=1)
    starting = LocalPool(settings, ["cpu"])
    [proc] = starting._procs
    starting.close()   # at once: the spawned worker is still importing
    assert proc.exitcode == -signal.SIGKILL and starting.live() == []

    started = LocalPool(settings, ["cpu"])
    [proc] = started._procs
    deadline = time.monotonic() + START_TIMEOUT
    while not started.idle():
        assert time.monotonic() < deadline, "the worker never said it was ready"
        started.wait(0.2)
    started.close()
    assert proc.exitcode == 0 and started.live() == []
