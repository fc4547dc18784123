"""A tiny textured object on this CPU, today's code against a commit's, side by side in one run (issue 89 item 7).

    .venv/bin/python bench/tiny_textured.py [--before 8bb991bc] [--rounds 2] [--json FILE]

The guide's textured Generate with the tiny models and the default texture settings (``generate
examples/house_scene.png --targets house --models tiny``: a 2048 px texture with material maps), run by
each version in its own process, the versions alternating round by round (which goes first alternates
too), so that the load of a shared machine falls on both alike. The earlier commit's
``backend/img23d_backend`` and ``protocol`` come out of git (``git archive``) and run as themselves. Each
run's wall seconds (the process, as a user waits for it: start-up and imports included) and its manifest's
seconds per stage and per paint phase; the JSON holds the medians, each stage's ratio now / before, and
every run. ``IMG23D_TINY_MODELS`` (the tiny models' folder) and ``OMP_NUM_THREADS`` are taken from the
environment, as the tests take them. Today's code is this checkout's files as each run starts: leave them
alone while it runs (the JSON says whether the tree had changes not committed: ``now_uncommitted``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from earlier_tree import earlier_tree  # bench/, beside this script

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "8bb991bc"  # the code issue 89's work started from
COMMAND = ("generate", str(ROOT / "examples" / "house_scene.png"), "--targets", "house", "--models", "tiny")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each version, alternating")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    load_start = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory(prefix="img23d-tiny-textured-") as tmp:
        folder = Path(tmp)
        old = earlier_tree(args.before, folder)
        code = {"before": old, "now": ROOT}
        for number in range(args.rounds):
            for name in (("before", "now") if number % 2 == 0 else ("now", "before")):
                runs[name].append(run_job(name, code[name], folder / f"runs-{name}-{number}"))
                print(f"round {number + 1}: {name} {runs[name][-1]['seconds']:.1f} s "
                      f"(load {runs[name][-1]['load_average']})", file=sys.stderr)
    report = {
        "what": "one textured Generate with the tiny models and the default texture settings, this tree against "
                "an earlier commit, each in its own process, alternating",
        "command": " ".join(("python -m img23d_backend", *COMMAND[:1], "examples/house_scene.png", *COMMAND[2:])),
        "before": args.before, "now": _head(), "now_uncommitted": _uncommitted(), "rounds": args.rounds,
        "device": f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores (no GPU)",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        **summary(runs), "runs": runs,
    }
    print(f"tiny textured object: before {report['seconds']['before']:.1f} s, now {report['seconds']['now']:.1f} s, "
          f"ratio {report['ratio']:.3f}")
    for stage, row in report["stages"].items():
        print(f"  {stage:18} before {row['before_s']:8.2f} s   now {row['now_s']:8.2f} s   ratio {row['ratio']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def run_job(name: str, root: Path, runs: Path) -> dict[str, Any]:
    """One version's tiny textured Generate in its own process: its wall seconds, the job's seconds per stage
    and the target's per phase (its manifest's), and the load average as it ended."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "backend"), str(root / "protocol")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    command = [sys.executable, "-m", "img23d_backend", *COMMAND, "--out", str(runs)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=str(runs.parent))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the {name} tiny job failed ({done.returncode}): {done.stderr[-2000:]}")
    manifest = json.loads(next(runs.glob("*/manifest.json")).read_text())
    target = (manifest.get("records") or [{}])[0].get("timings", {})
    return {"seconds": round(seconds, 2), "stages": manifest.get("timings", {}),
            "target": {key: value for key, value in target.items() if key.startswith("paint_")},
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The medians of each version's runs: wall seconds, each stage's and each paint phase's, with the ratios."""
    seconds = {name: statistics.median(run["seconds"] for run in found) for name, found in runs.items()}
    rows: dict[str, dict[str, Any]] = {}
    for part in ("stages", "target"):
        names = [key for key in runs["now"][0][part] if key in runs["before"][0][part]]
        for key in names:
            before = statistics.median(run[part].get(key, 0.0) for run in runs["before"])
            now = statistics.median(run[part].get(key, 0.0) for run in runs["now"])
            rows[key] = {"before_s": round(before, 3), "now_s": round(now, 3),
                         "ratio": round(now / before, 3) if before > 0 else None}
    return {"seconds": {name: round(value, 2) for name, value in seconds.items()},
            "ratio": round(seconds["now"] / seconds["before"], 3), "stages": rows}


def _uncommitted() -> bool:
    """Whether the checkout's backend or protocol differ from its commit (what ``now`` ran is then not it)."""
    return bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "backend", "protocol"],
                               capture_output=True, text=True).stdout.strip())


def _head() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
