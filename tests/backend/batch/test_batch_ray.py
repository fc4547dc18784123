"""The batch command on a real Ray cluster on 127.0.0.1 (one head, started once for this file), with
the tiny models on the CPU: two actors, one killed mid-picture, Ctrl-C, a corrupt picture, a rerun."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import ray_head
from batch_files import FAST_FLAGS, batch, by_name, manifests, pictures, record
from ctrl_c import ctrl_c, killed_if_left

pytestmark = [pytest.mark.ray,  # a real Ray cluster (pytest.ini)
              pytest.mark.skipif(ray_head.available() is not None, reason=str(ray_head.available()))]


@pytest.fixture
def cluster(ray_cluster: ray_head.RayHead) -> ray_head.RayHead:
    """The session's one cluster (tests/backend/conftest.py)."""
    return ray_cluster


def _ray(cluster: ray_head.RayHead, out: Path, *inputs: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return batch(cluster.env, *inputs, "--out", str(out), "--ray", cluster.address, "--workers", "2",
                 *FAST_FLAGS, *extra)


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to list listening sockets")
def test_the_cluster_listens_on_loopback_only(cluster: ray_head.RayHead) -> None:
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=30).stdout.splitlines()
    ours = [line for line in listening
            if any(ray_head.group_of(int(pid)) == cluster.proc.pid for pid in re.findall(r"pid=(\d+)", line))]
    assert any(line.split()[3].endswith(":" + cluster.address.rsplit(":", 1)[1]) for line in ours), listening
    hosts = {line.split()[3].rsplit(":", 1)[0] for line in ours}
    assert hosts <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, ours  # never 0.0.0.0, [::] or the machine's address


@pytest.mark.fault("batch-ray")
def test_a_batch_on_two_actors_and_its_rerun(cluster: ray_head.RayHead, tmp_path: Path, nothing_lost) -> None:
    folder = pictures(tmp_path / "pictures", 3, corrupt=True)
    out = tmp_path / "out"
    first = _ray(cluster, out, str(folder))
    assert first.returncode == 3, first.stderr  # the corrupt picture failed; the rest were made
    entries = by_name(out)
    assert {n: e["status"] for n, e in entries.items()} == {
        "corrupt.png": "failed", "picture-0.png": "done", "picture-1.png": "done", "picture-2.png": "done"}
    assert entries["corrupt.png"]["error"]["code"] == "image_unreadable" and entries["corrupt.png"]["attempts"] == 1
    runs = manifests(out)
    for name, entry in entries.items():
        manifest = runs[entry["run_dir"]]  # the run came back through Ray into --out
        assert manifest["status"] == ("failed" if name == "corrupt.png" else "finished")
    assert {e["workers"][0].split()[0] for e in entries.values()} == {"ray-0", "ray-1"}  # both actors took pictures
    for name in ("picture-0", "picture-1", "picture-2"):
        assert (out / entries[f"{name}.png"]["run_dir"] / f"{name}.glb").stat().st_size > 0
    assert not list(out.rglob(".tmp-*")) and record(out)["status"] == "finished"
    assert "[4/4]" in first.stdout and "3 done, 0 skipped, 1 failed" in first.stdout

    before = sorted(p.name for p in out.iterdir())
    again = _ray(cluster, out, str(folder))
    assert again.returncode == 3, again.stderr
    assert sorted(p.name for p in out.iterdir()) == before  # nothing redone, nothing added
    assert {n: e["status"] if e["status"] != "done" else ("done", e["skipped"]) for n, e in by_name(out).items()} == {
        "corrupt.png": "failed", "picture-0.png": ("done", True), "picture-1.png": ("done", True),
        "picture-2.png": ("done", True)}
    assert "0 to run" in again.stdout
    nothing_lost(out)


@pytest.mark.fault("batch-ray")
def test_a_worker_killed_mid_picture_has_it_finished_on_the_other(cluster: ray_head.RayHead, tmp_path: Path,
                                                                  nothing_lost) -> None:
    folder = pictures(tmp_path / "pictures", 3)
    out = tmp_path / "out"
    Path(cluster.extra["arm"]).write_text("the first worker to start an export stage is killed")
    result = _ray(cluster, out, str(folder), extra=("--json",))
    assert result.returncode == 0, result.stderr
    assert not Path(cluster.extra["arm"]).exists(), "no worker reached the failpoint"
    entries = by_name(out)
    assert all(e["status"] == "done" for e in entries.values()), entries
    [killed] = [e for e in entries.values() if e["retried"]]
    slots = [worker.split()[0] for worker in killed["workers"]]
    assert killed["attempts"] == 2 and len(set(slots)) == 2  # retried on the other actor
    assert "died" in killed["retried"][0]["message"]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events].count("retry") == 1 and events[-1]["event"] == "summary"
    # One run folder per picture: the killed attempt's never came back, nothing is doubled.
    assert sorted(m["image"]["sha256"] for m in manifests(out).values()) == sorted(e["sha256"] for e in entries.values())
    nothing_lost(out)


@pytest.mark.fault("batch-ray")
def test_ctrl_c_closes_the_record_and_the_running_manifests(cluster: ray_head.RayHead, tmp_path: Path,
                                                             nothing_lost) -> None:
    folder = pictures(tmp_path / "pictures", 4)
    out = tmp_path / "out"
    slow = [f if f != "32" else "160" for f in FAST_FLAGS] + ["--volume-decoder", "dense"]
    proc = subprocess.Popen([sys.executable, "-m", "img23d_backend", "batch", str(folder), "--out", str(out),
                             "--ray", cluster.address, "--workers", "2", *slow], env=cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with killed_if_left(proc):
        deadline = time.monotonic() + 180
        while not (out / "batch.json").is_file() or "running" not in {p["status"] for p in record(out)["pictures"]}:
            assert proc.poll() is None and time.monotonic() < deadline, "the batch never started a picture"
            time.sleep(0.3)
        time.sleep(3)  # inside a picture's job
        # The driver, mid-batch, holds no model library: its actors do (test_batch_driver_light.py).
        mapped = {Path(m.path).name for m in psutil.Process(proc.pid).memory_maps()}
        assert not any(name.startswith(("libtorch", "libc10")) for name in mapped), sorted(mapped)
        stdout, stderr = ctrl_c(proc)
    assert proc.returncode == 130, stderr
    data = record(out)
    statuses = [p["status"] for p in data["pictures"]]
    assert data["status"] == "cancelled" and "running" not in statuses and "cancelled" in statuses, statuses
    assert all(m["status"] != "running" for m in manifests(out).values())
    assert any(m["status"] == "cancelled" for m in manifests(out).values())  # a running one, closed
    assert "batch cancelled" in stdout
    nothing_lost(out)


def test_a_prompts_line_is_made_on_ray_and_a_bad_line_fails_alone(cluster: ray_head.RayHead, tmp_path: Path) -> None:
    # Issue 76 item 3: the worker makes the picture from the text (nothing is read or sent for it here), its run
    # comes back with the picture and the prompt in its manifest; a line with a picture and a prompt fails alone.
    pictures(tmp_path, 1)
    (tmp_path / "list.jsonl").write_text('{"prompt": "a wooden barrel", "names": "barrel"}\n'
                                         '{"prompt": "a wooden barrel", "image": "picture-0.png"}\n')
    out = tmp_path / "out"
    done = batch(cluster.env, str(tmp_path / "list.jsonl"), "--out", str(out), "--ray", cluster.address,
                 "--workers", "1", *FAST_FLAGS)
    assert done.returncode == 3, done.stderr  # the bad line failed; the prompt's was made
    made, refused = record(out)["pictures"]
    assert (made["status"], made["prompt"], made["meshes"]) == ("done", "a wooden barrel", 1), made
    manifest = manifests(out)[made["run_dir"]]
    assert manifest["image"]["prompt"]["prompt"] == "a wooden barrel" and (out / made["run_dir"] / "input.png").is_file()
    assert (refused["status"], refused["where"]) == ("failed", "list.jsonl line 2")
    assert refused["error"]["message"].startswith("list.jsonl line 2: both a picture and a prompt were given")
    assert '"a wooden barrel" (list.jsonl line 1): 1 mesh(es)' in done.stdout
