"""What img23d's garbage-collector settings (``env/collector.py``) save, side by side in one run.

    IMG23D_TINY_MODELS=... .venv-py313/bin/python bench/collector.py [--repeat 3] [--json FILE]

Two measurements, each alternated ``--repeat`` times, the CPU-seconds (user + system) of each child process
read from the kernel when it is reaped (``os.wait4``), so everything the process did counts, its exit too:

- ``exit``: a process that imports what a job's process holds (torch, torchvision, transformers, diffusers,
  trimesh, scipy) and exits, as Python ends it, then after ``skip_final_collection()``. The difference is
  what the interpreter's last collections cost.
- ``generate``: the command line's tiny-model generate (``--models tiny``, textured, one name), run by
  ``img23d_backend.commands.cli.main`` as ``python -m img23d_backend`` runs it, with Python's collector
  as it comes (thresholds 700, 10, 10; a normal exit), then with ``__main__``'s two calls
  (``collect_less_often`` first, ``skip_final_collection`` last). The collector's own time in each is
  read through ``gc.callbacks``.

Prints, and writes with ``--json``, each run and the medians' ratios (after / before).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOUSE = REPO / "examples" / "house_scene.png"
SOURCES = os.pathsep.join([str(REPO / "protocol"), str(REPO / "backend")])

EXIT_CHILD = """
import sys
import torch, torchvision, transformers, diffusers, trimesh, scipy  # what a job's process holds
from transformers import AutoModel
import diffusers.models
if sys.argv[1] == "frozen":
    from img23d_backend.env.collector import skip_final_collection
    skip_final_collection()
"""

GENERATE_CHILD = """
import gc, json, os, sys, time
seconds = [0.0]
started = [0.0]
def timed(phase, info):
    if phase == "start":
        started[0] = time.process_time()
    else:
        seconds[0] += time.process_time() - started[0]
gc.callbacks.append(timed)
from img23d_backend.commands.cli import main
from img23d_backend.env.collector import collect_less_often, skip_final_collection
tuned = sys.argv[1] == "tuned"
if tuned:
    collect_less_often()
code = main(sys.argv[2:])
sys.stderr.write(json.dumps({"gc_s": round(seconds[0], 3), "code": code}) + "\\n")
if tuned:
    skip_final_collection()
sys.exit(code)
"""


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict:
    """One child Python; its CPU-seconds as the kernel counted them at reaping, and its last JSON line on stderr."""
    with tempfile.TemporaryFile("w+") as err:
        pid = os.posix_spawn(sys.executable, [sys.executable, "-c", code, *args], env,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        err.seek(0)
        stderr = err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the child failed: {stderr[-2000:]}")
    said = next((json.loads(line) for line in reversed(stderr.splitlines()) if line.startswith("{")), {})
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 3), **said}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": SOURCES, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    runs: dict[str, list[dict]] = {"exit_normal": [], "exit_frozen": [], "generate_default": [],
                                   "generate_tuned": []}
    with tempfile.TemporaryDirectory(prefix="img23d-bench-collector-") as scratch:
        job = ["generate", str(HOUSE), "--models", "tiny", "--device", "cpu", "--targets", "house",
               "--steps", "2", "--octree-resolution", "32", "--out", scratch]
        for index in range(args.repeat):
            for name, code, child_args in (("exit_normal", EXIT_CHILD, ["normal"]),
                                           ("exit_frozen", EXIT_CHILD, ["frozen"]),
                                           ("generate_default", GENERATE_CHILD, ["default", *job]),
                                           ("generate_tuned", GENERATE_CHILD, ["tuned", *job])):
                result = run_child(code, child_args, env)
                runs[name].append(result)
                print(f"{index + 1}/{args.repeat} {name}: {result}", flush=True)
    medians = {name: statistics.median(r["cpu_s"] for r in results) for name, results in runs.items()}
    report = {
        "what": "CPU-seconds of whole child processes (the kernel's count at reaping), alternated",
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "load_average": os.getloadavg()},
        "repeat": args.repeat, "runs": runs, "median_cpu_s": medians,
        "exit_saving_s": round(medians["exit_normal"] - medians["exit_frozen"], 3),
        "generate_ratio": round(medians["generate_tuned"] / medians["generate_default"], 3),
        "generate_gc_s": {name: statistics.median(r["gc_s"] for r in runs[name])
                          for name in ("generate_default", "generate_tuned")},
    }
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
