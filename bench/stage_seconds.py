"""Each stage's seconds of one cold Generate with the tiny models, beside this CPU's float32 probe: what
``models/stage_seconds.py``'s host figures are fitted to (``bench/results/stage-seconds-cpu.json``), and the
job's estimate said before its first stage, to compare: each stage's said seconds (read back from the line), its
measured seconds (the run's manifest) and their ratio, marked within 2x or not (``bench/results/estimates-cpu.json``).

    .venv/bin/python bench/stage_seconds.py --out DIR [--prompt TEXT | --image PATH --names "a, b"]
                                            [--texture-size N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch

from img23d_backend import api
from img23d_backend.models.throughput import measure
from img23d_protocol import ESTIMATE_STAGE, Message, Progress


# The estimate line's stage names and the manifest's timings of the same stage.
TIMED = {"the picture": "picture", "grounding": "grounding", "matting": "matting", "depth": "depth", "shape": "shape",
         "clean-up": "cleanup", "paint": "paint", "materials": "materials", "export": "export",
         "game-ready finish": "finish"}
UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def said_seconds(line: str) -> dict[str, float]:
    """Each stage's seconds as the estimate line says them ("..., paint about 8 s, ..."): what the artist reads,
    rounded as ``duration`` rounds."""
    stages = line.split(": ", 1)[1] if ": " in line else ""
    found = {}
    for part in stages.split(", "):
        match = re.fullmatch(r"(.+?) about ([0-9.]+) (s|min|h)", part.strip())
        if match and match.group(1) in TIMED:
            found[TIMED[match.group(1)]] = float(match.group(2)) * UNITS[match.group(3)]
    return found


# A stage shorter than this, said and measured, is not judged: the line says "about 1 s" for any under 1.5 s.
JUDGED_S = 3.0


def compared(said: dict[str, float], timings: dict[str, float]) -> dict[str, dict[str, object]]:
    """Each stage said and measured: their ratio (said over measured), whether it is within a factor of two, and
    whether it is long enough to judge (``JUDGED_S``, said or measured)."""
    rows: dict[str, dict[str, object]] = {}
    for stage, seconds in said.items():
        measured = timings.get(stage)
        if not measured:
            continue
        ratio = seconds / measured
        rows[stage] = {"said_s": seconds, "measured_s": round(measured, 2), "ratio": round(ratio, 2),
                       "within_2x": 0.5 <= ratio <= 2.0, "judged": max(seconds, measured) >= JUDGED_S}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the runs folder")
    parser.add_argument("--prompt", default="", help="make the picture from this text")
    parser.add_argument("--image", default="", help="the picture (without --prompt)")
    parser.add_argument("--names", default="", help="comma-separated names (none: the whole picture)")
    parser.add_argument("--texture-size", type=int, default=api.JobOptions.texture_size)
    parser.add_argument("--json", type=Path, default=None, help="write the result here too")
    args = parser.parse_args()
    before = measure(torch.device("cpu"), torch.float32).gflops
    said: list[str] = []

    def heard(message: Message) -> None:
        if isinstance(message, Progress) and message.stage == ESTIMATE_STAGE:
            said.append(message.message)

    started = time.perf_counter()
    names = [name.strip() for name in args.names.split(",") if name.strip()] or None
    with api.Session(args.out, api.Models(models="tiny", device="cpu")) as session:
        result = session.generate(args.image, names, api.JobOptions(texture_size=args.texture_size),
                                  prompt=args.prompt, events=heard)
    wall = time.perf_counter() - started
    after = measure(torch.device("cpu"), torch.float32).gflops
    manifest = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))
    report = {"probe_gflops": [round(before, 1), round(after, 1)], "wall_s": round(wall, 1),
              "texture_size": args.texture_size, "said": said, "run_timings": manifest["timings"],
              "target_timings": [record.get("timings") for record in manifest["records"]],
              "stages": compared(said_seconds(said[0]) if said else {}, manifest["timings"])}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":   # img23d's worker processes import this script again (env/spawned_main.py)
    main()
