"""Batches on a real Ray cluster (one head on 127.0.0.1 with two CPUs, started once for this file)
whose workers cannot run: every actor's constructor fails, more actors are asked for than the
cluster can place (or it has no room for any), a picture hangs on every actor. Each batch must
end by itself, in one sentence where it cannot make a picture; before, each of them waited forever.

The cluster's workers carry two failpoints, inert until a test creates the file that arms one."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

import ray_head
from batch_files import FAST_FLAGS, batch, batch_changing_pictures, by_name, check_changed_during, pictures, record

pytestmark = [pytest.mark.ray,  # a real Ray cluster (pytest.ini)
              pytest.mark.skipif(ray_head.available() is not None, reason=str(ray_head.available()))]

BATCH_TIMEOUT = 300.0   # seconds: each batch here ends in well under this when nothing waits forever


@pytest.fixture
def cluster(ray_cluster: ray_head.RayHead) -> ray_head.RayHead:
    """The session's one cluster (tests/backend/conftest.py)."""
    return ray_cluster


@contextmanager
def _armed(cluster: ray_head.RayHead, place: str, why: str) -> Iterator[None]:
    """The cluster's failpoint at ``place`` armed (its file created) while the block runs."""
    armed = Path(cluster.extra["armed"]) / place
    armed.write_text(why)
    try:
        yield
    finally:
        armed.unlink()


def _ray(cluster: ray_head.RayHead, out: Path, folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return batch(cluster.env, str(folder), "--out", str(out), "--ray", cluster.address, *FAST_FLAGS, *extra,
                 timeout=BATCH_TIMEOUT)


@pytest.mark.fault("batch-ray-constructor")
def test_actors_whose_constructor_fails_end_the_batch_with_one_sentence(cluster: ray_head.RayHead,
                                                                         tmp_path: Path) -> None:
    with _armed(cluster, "batch-worker", "every batch worker's constructor raises"):
        result = _ray(cluster, tmp_path / "out", pictures(tmp_path / "pictures", 2), "--workers", "2")
    assert result.returncode == 3, result.stderr
    for entry in by_name(tmp_path / "out").values():  # not run, not failed: the same command runs them again
        assert entry["status"] == "cancelled" and entry["error"]["code"] == "worker_lost"
        assert entry["error"]["message"].startswith("not run: no worker left to run it: the worker ray-")
        assert entry["error"]["message"].endswith("could not start: RuntimeError: failpoint batch-worker; the same "
                                                  "command runs it again")
    assert record(tmp_path / "out")["status"] == "finished"


@pytest.mark.fault("batch-ray-unplaceable")
def test_more_actors_than_the_cluster_can_place_leave_the_pictures_to_the_others(cluster: ray_head.RayHead,
                                                                                 tmp_path: Path) -> None:
    # Two CPUs, one per actor: the third actor is never placed, and must never be handed a picture.
    result = _ray(cluster, tmp_path / "out", pictures(tmp_path / "pictures", 3), "--workers", "3")
    assert result.returncode == 0, result.stderr
    entries = by_name(tmp_path / "out")
    assert all(e["status"] == "done" and e["attempts"] == 1 for e in entries.values()), entries
    assert len({worker.split()[0] for e in entries.values() for worker in e["workers"]}) == 2


SQUATTER = """
import sys, time
import ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
@ray.remote(num_cpus=1)
class Squatter:
    def ping(self):
        return 1
held = [Squatter.remote() for _ in range(int(sys.argv[2]))]
ray.get([s.ping.remote() for s in held], timeout=120)
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.fault("batch-ray-no-room")
def test_actors_the_cluster_has_no_room_for_are_given_up_after_the_start_timeout(cluster: ray_head.RayHead,
                                                                                 tmp_path: Path) -> None:
    # Another driver holds both CPUs: none of the batch's actors can be placed.
    squatter = subprocess.Popen([sys.executable, "-c", SQUATTER, cluster.address, "2"], env=cluster.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert squatter.stdout is not None and squatter.stdout.readline().strip() == "held", "the CPUs were not taken"
        result = _ray(cluster, tmp_path / "out", pictures(tmp_path / "pictures", 2), "--workers", "2",
                      "--worker-start-timeout", "5")
    finally:
        squatter.kill()
        squatter.wait(timeout=60)
    assert result.returncode == 3, result.stderr
    assert sum(line.startswith("worker  given up:") for line in result.stdout.splitlines()) == 2, result.stdout
    for entry in by_name(tmp_path / "out").values():
        assert entry["status"] == "cancelled" and entry["attempts"] == 0
        assert entry["error"]["message"].startswith("not run: no worker left to run it: the worker ray-")
        assert "did not start within 5 s (--worker-start-timeout)" in entry["error"]["message"]


@pytest.mark.fault("batch-ray-hang")
def test_a_picture_that_hangs_on_every_actor_is_stopped_retried_then_failed(cluster: ray_head.RayHead,
                                                                            tmp_path: Path) -> None:
    # A short limit: each attempt waits it out, and a stopped actor's replacement starts before its clock does.
    with _armed(cluster, "shape", "every shape stage hangs"):
        result = _ray(cluster, tmp_path / "out", pictures(tmp_path / "pictures", 2), "--workers", "2",
                      "--picture-timeout", "8")
    assert result.returncode == 3, result.stderr
    for entry in by_name(tmp_path / "out").values():
        assert (entry["status"], entry["attempts"], entry["timeouts"]) == ("failed", 2, 2), entry
        assert len({w.split()[0] for w in entry["workers"]}) == 2  # stopped on one actor, tried on the other
        assert entry["error"]["message"].startswith("it ran past the per-picture limit of 8 s 2 time(s), on ray-")


@pytest.mark.fault("batch-ray-picture-gone")
def test_a_picture_deleted_mid_batch_fails_alone_and_a_changed_one_is_recorded_as_made(
        cluster: ray_head.RayHead, tmp_path: Path, nothing_lost) -> None:
    # The driver reads each picture as its turn comes: one gone by then failed the whole batch, with a
    # traceback, where the local batch failed that picture alone (tests/backend/batch/test_batch.py).
    folder, out = pictures(tmp_path / "pictures", 3), tmp_path / "out"
    donor = pictures(tmp_path / "donor", 5) / "picture-4.png"
    result = batch_changing_pictures(cluster.env, folder, out, folder / "picture-1.png", folder / "picture-2.png",
                                     donor, workers=2, ray=cluster.address, timeout=BATCH_TIMEOUT)
    assert result.returncode == 0 and result.stdout.strip() == "finished", result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    check_changed_during(out, folder / "picture-1.png", folder / "picture-2.png", donor)
    nothing_lost(out)
