"""Three textured objects against one, with the targets' host work overlapped and not, side by side in one run.

    .venv/bin/python bench/overlap.py [--models tiny|full-size-random] [--models-dir DIR] [--device cpu|cuda]
                                      [--rounds 2] [--texture-size N] [--json bench/results/overlap-cpu.json]

Issue 89's goal for a warm job on a GPU: three textured objects take at most 1.5 times one. While the device
paints target i, the host unwraps target i + 1 (the UV worker) and cleans, fills and writes target i - 1 (the
tail's worker, ``jobs.kinds.generate``); ``--no-overlap``'s half of each round leaves the fills on the job's thread as
before (``GenerateRun.defers_fills`` off), so the two are measured in the same process, alternating. One
engine, warmed by a first job; each round runs one and three textured objects in both ways. For every job:
seconds, each target's host and device seconds (``chain.sides``) and its timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from chain import HOUSE, WORKLOADS, _options, model_set, sides

ROOT = Path(__file__).resolve().parents[1]


def run_job(engine: Any, targets: int, texture_size: int | None, models: str, overlap: bool,
            label: str) -> dict[str, Any]:
    from img23d_backend.jobs import Job
    from img23d_backend.jobs.kinds.generate import GenerateRun
    from img23d_protocol import GenerateRequest

    names, _ = WORKLOADS[targets]
    options = _options(models, targets, True, "managed")
    if texture_size:
        options = replace(options, texture_size=texture_size)
    GenerateRun.defers_fills = overlap
    request = GenerateRequest(id=label, image=str(HOUSE), targets=names, options=options)
    started = time.perf_counter()
    data = engine.run(request, Job(id=label, emit=lambda event: None))
    seconds = time.perf_counter() - started
    manifest = json.loads(Path(data.manifest).read_text())
    return {"targets": targets, "overlap": overlap, "seconds": round(seconds, 3), "stage_seconds": manifest["timings"],
            "made": sum(r.status == "done" for r in data.targets),
            "textured": sum(bool(r.textured) for r in data.targets),
            "target_sides": [sides(r.get("timings", {})) for r in manifest["records"]],
            "target_seconds": [r.get("timings", {}) for r in manifest["records"]]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=("tiny", "full-size-random"), default="tiny")
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--texture-size", type=int, help="the atlas's side (the chain's preset's when left out)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import tempfile

    from img23d_backend.jobs import Engine, EngineSettings

    with tempfile.TemporaryDirectory(prefix="img23d-overlap-") as runs:
        engine = Engine(EngineSettings(models=model_set(args.models, args.models_dir), runs_dir=Path(runs),
                                       device=args.device))
        run_job(engine, 1, args.texture_size, args.models, True, "warm-up")  # loads every model once
        jobs = []
        for number in range(args.rounds):
            for overlap in (False, True) if number % 2 == 0 else (True, False):
                for targets in (1, 3):
                    job = run_job(engine, targets, args.texture_size, args.models, overlap, f"r{number}-{targets}")
                    jobs.append(job)
                    print(f"round {number + 1}: {targets} textured, overlap {'on' if overlap else 'off'}: "
                          f"{job['seconds']:.2f} s", file=sys.stderr, flush=True)

    def median(targets: int, overlap: bool) -> float:
        return statistics.median(j["seconds"] for j in jobs if j["targets"] == targets and j["overlap"] == overlap)

    summary = {("on" if overlap else "off"): {
        "one_s": median(1, overlap), "three_s": median(3, overlap),
        "three_over_one": round(median(3, overlap) / median(1, overlap), 3)} for overlap in (True, False)}
    for mode, figures in summary.items():
        print(f"overlap {mode}: one {figures['one_s']:.2f} s, three {figures['three_s']:.2f} s, "
              f"three / one {figures['three_over_one']:.2f}")
    if args.json:
        import torch

        on_gpu = args.device.startswith("cuda")
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        args.json.write_text(json.dumps({
            "device": torch.cuda.get_device_name() if on_gpu else
            f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "models": args.models, "commit": os.environ.get("IMG23D_COMMIT") or commit,
            "options": {"texture_size": args.texture_size or "the chain's preset"}, "rounds": args.rounds,
            "load_average": os.getloadavg(), "medians": summary,
            "goal": "three textured objects at most 1.5x one, warm, on a GPU (H100/H200, full-size replicas)",
            "goal_outcome": ("HOLDS" if summary["on"]["three_over_one"] <= 1.5 else "FAILS") if on_gpu else
            "NOT MEASURABLE here: a GPU goal; on a CPU the device's work and the host's share the same cores",
            "jobs": jobs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
