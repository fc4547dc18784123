"""The batch command's throughput with one and two workers, and its driver's memory as the batch grows.

    .venv-py313/bin/python bench/batch.py [--pictures 16] [--octree 128] [--decoder dense] [--json FILE]

Throughput: the same pictures (small, all different) through ``batch`` without Ray, with
``--workers 1`` and ``--workers 2``, each worker limited to one thread (``--worker-threads 1``,
``OMP_NUM_THREADS=1``): pictures per second from the batch's ``start`` event (the workers are
spawned, still loading their models) to its last picture (``start_to_last_s``), and in the steady
state (``pictures_per_s``: the pictures after each worker's first, over the time from the moment
every worker had finished one to the last), from the ``--json`` stream's arrival times. The
goal: two workers at least 1.6 x one worker's steady throughput.

Driver memory: the peak resident memory of the driver process alone (not its workers), polled
every 0.1 s, for batches of 10 and 200 pictures, without Ray (two worker processes) and on a
local Ray cluster (two actors; the pictures travel to the actors and the run folders come back
through the driver): it must stay flat as the batch grows. Every run is the real command, with
the tiny models on the CPU, untextured (``--no-texture``) at octree 32 for the memory runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import ray_head  # noqa: E402  (tests/: the loopback, token-guarded Ray head the tests start)

HOUSE = REPO / "examples" / "house_scene.png"
SOURCES = os.pathsep.join([str(REPO / "protocol"), str(REPO / "backend")])


def make_pictures(folder: Path, count: int, size: int = 128) -> Path:
    """``count`` different pictures (each a little shifted crop of the house)."""
    folder.mkdir(parents=True, exist_ok=True)
    house = Image.open(HOUSE).convert("RGB")
    for index in range(count):
        offset = index % 97
        house.crop((offset, offset, house.width - 97 + offset, house.height - 97 + offset)).resize(
            (size, size)).save(folder / f"picture-{index:04d}.png")
    return folder


def run_batch(env: dict[str, str], pictures: Path, out: Path, *flags: str) -> dict:
    """One batch; its wall time, its pictures' times from the JSON stream, and the driver's peak RSS."""
    command = [sys.executable, "-m", "img23d_backend", "batch", str(pictures), "--out", str(out), "--json",
               "--models", "tiny", "--device", "cpu", "--steps", "3", "--face-budget", "2000", "--no-texture",
               "--worker-threads", "1", *flags]
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def poll() -> None:
        driver = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], driver.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    events = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append((time.monotonic(), json.loads(line)))
    stderr = proc.stderr.read() if proc.stderr else ""
    proc.wait(timeout=1800)
    watcher.join(5)
    if proc.returncode != 0:
        raise RuntimeError(f"the batch failed ({proc.returncode}): {stderr[-2000:]}")
    start = next(t for t, e in events if e["event"] == "start")
    workers = next(e["workers"] for t, e in events if e["event"] == "start")
    done = [t for t, e in events if e["event"] == "picture" and e["status"] == "done"]
    # Steady state: from the moment every worker has finished a picture (its models loaded) on.
    warm = done[workers - 1]
    return {"pictures": len(done), "workers": workers, "wall_s": round(time.monotonic() - started, 2),
            "start_to_last_s": round(done[-1] - start, 2),
            "pictures_per_s": round((len(done) - workers) / (done[-1] - warm), 3),
            "driver_peak_rss_mb": round(peak[0] / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=16, help="pictures for the throughput runs")
    parser.add_argument("--octree", type=int, default=128, help="octree resolution of the throughput runs")
    parser.add_argument("--decoder", default="dense", choices=("dense", "flashvdm"),
                        help="volume decoder of the throughput runs (dense: seconds of work per picture, so the "
                             "pictures' compute, not the models' loading, decides the throughput)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--sizes", default="10,200", help="batch sizes for the driver-memory runs")
    parser.add_argument("--no-ray", action="store_true", help="skip the driver-memory runs on Ray")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": SOURCES, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    results: dict = {"device": f"this {psutil.cpu_count()}-core CPU ({platform.machine()}), no GPU",
                     "python": platform.python_version(), "models": "tiny replicas, CPU, untextured",
                     "throughput": {}, "driver_memory": {}}
    with tempfile.TemporaryDirectory(prefix="img23d-bench-batch-") as folder:
        work = Path(folder)
        pictures = make_pictures(work / "throughput", args.pictures)
        for workers in () if args.skip_throughput else (1, 2):
            result = run_batch(env, pictures, work / f"out-{workers}", "--workers", str(workers),
                               "--octree-resolution", str(args.octree), "--volume-decoder", args.decoder)
            results["throughput"][f"{workers} worker(s)"] = result
            print(f"{workers} worker(s): {result}", flush=True)
        if not args.skip_throughput:
            results["throughput"]["settings"] = f"{args.pictures} pictures, octree {args.octree}, {args.decoder} decoder"
            one, two = (results["throughput"][f"{n} worker(s)"]["pictures_per_s"] for n in (1, 2))
            results["throughput"]["ratio_two_to_one"] = round(two / one, 2)
            print(f"two workers / one: {two / one:.2f} (goal >= 1.6)", flush=True)

        sizes = [] if args.skip_memory else [int(s) for s in args.sizes.split(",")]
        for size in sizes:
            many = make_pictures(work / f"memory-{size}", size, size=96)
            result = run_batch(env, many, work / f"mem-local-{size}", "--workers", "2", "--octree-resolution", "32")
            results["driver_memory"][f"without Ray, {size} pictures"] = result
            print(f"without Ray, {size} pictures: {result}", flush=True)
        if sizes and not args.no_ray and ray_head.available() is None:
            head = ray_head.RayHead.start(env, num_cpus=2)
            try:
                for size in sizes:
                    result = run_batch(head.env, work / f"memory-{size}", work / f"mem-ray-{size}", "--workers", "2",
                                       "--octree-resolution", "32", "--ray", head.address)
                    results["driver_memory"][f"Ray, {size} pictures"] = result
                    print(f"Ray, {size} pictures: {result}", flush=True)
            finally:
                head.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
