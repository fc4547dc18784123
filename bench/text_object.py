"""Text to one textured object, as ``generate --prompt`` makes it (issue 76 item 6: the goal is 30 s or less on an
H100 or H200), with what the job said before each step beside what it took.

    python3 bench/text_object.py --models full-size-random --models-dir DIR --device cuda [--json OUT]
    .venv/bin/python bench/text_object.py --models tiny --device cpu        # checks the script (no meaning)

The engine the command line runs (one process, the model manager's default policy within the device's memory),
given the full-size random-weight replicas (``bench/full_size_models.py --only editor,grounding,matting,shape,
delight,paint-turbo,materials``: FLUX.2 [klein] 4B makes the picture, then the default family's chain) or the
tiny ones, runs a Generate from a prompt with no names (one object named by the prompt), textured with the
default preset, twice: the first job reads every model from disk, the second finds them in memory (an artist's
second prompt). For each job: the wall seconds, each stage's seconds from the run's manifest (``picture`` is the
text-to-image step), the picture's expected seconds the job says before it starts (``expected_seconds``,
beside the line it said)
and, on CUDA, the device's peak allocation. Random weights change no compute: the picture is noise, the object
whatever the shape model makes of it; only the times mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from chain import model_set  # noqa: E402  (bench/, beside this script)

import torch  # noqa: E402

from img23d_backend.jobs import Engine, EngineSettings, Job  # noqa: E402
from img23d_backend.jobs.kinds.prompt_picture import expected_seconds  # noqa: E402
from img23d_protocol import GenerateRequest, JobOptions, Progress  # noqa: E402

PROMPT = "a wooden barrel"
GOAL_S = 30.0
def run_job(engine: Engine, number: int, options: JobOptions, device: str) -> dict[str, Any]:
    """One Generate from ``PROMPT``: its seconds, its stages', what it said of the picture before, its peak."""
    said: list[str] = []

    def heard(event: Any) -> None:
        if isinstance(event, Progress) and event.stage == "picture" and event.message:
            said.append(event.message)

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    request = GenerateRequest(id=f"text-{number}", prompt=PROMPT, options=options)
    expected = expected_seconds(engine.manager, options.edit_size)   # what the job's first line says, in seconds
    start = time.perf_counter()
    result = engine.run(request, Job(id=request.id, emit=heard))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    manifest = json.loads(Path(result.manifest).read_text(encoding="utf-8"))
    figures = {"job": number, "seconds": round(seconds, 2), "made": sum(r.status == "done" for r in result.targets),
               "stage_seconds": {name: round(value, 3) for name, value in manifest["timings"].items()},
               "picture_said": said[0] if said else None,
               "picture_expected_seconds": round(expected, 2),
               "peak_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if device.startswith("cuda") else None}
    print(f"job {number}: {seconds:.1f} s, picture {figures['stage_seconds'].get('picture', 0):.1f} s "
          f"(said {expected:.1f} s), {figures['made']} made", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="full-size-random", choices=("full-size-random", "tiny"))
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--runs", type=Path, default=Path("/tmp/img23d-text-object-runs"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    engine = Engine(EngineSettings(models=model_set(args.models, args.models_dir), runs_dir=args.runs,
                                   device=args.device))
    # The default preset, textured (as the add-on's Generate sends it); the tiny models at sizes a CPU finishes.
    small = dict(octree_resolution=128, face_budget=5000, texture_size=256, render_size=256, paint_steps=2,
                 delight_steps=2) if args.models == "tiny" else {}
    options = JobOptions(texture=True, **small)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu",
        "commit": os.environ.get("IMG23D_COMMIT", ""),  # the lent copy's commit, as gpu_benchmarks.sh passes it
        "models": args.models, "torch": torch.__version__, "prompt": PROMPT, "goal_seconds": GOAL_S, "jobs": []}
    for number in (1, 2):
        report["jobs"].append(run_job(engine, number, options, args.device))
        if args.json:  # written as it goes: a run cut short keeps what it measured
            args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    warm = report["jobs"][-1]["seconds"]
    print(f"text to one textured object, warm: {warm:.1f} s (goal <= {GOAL_S:.0f} s on an H100/H200: "
          f"{'met' if warm <= GOAL_S else 'not met'}{'' if args.models != 'tiny' else '; tiny models: no meaning'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
