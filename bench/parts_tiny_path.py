"""The parts command's tiny path on this machine, run as a user runs it (issue 74 item 4): time and peak memory.

    .venv-py313/bin/python bench/parts_tiny_path.py [--json bench/results/parts-tiny-path-cpu.json]

Each case is one ``python -m img23d_backend parts ... --models tiny -v`` process with the command's defaults
(up to 40 parts, grid 256, 50 steps a part): the bundled house mesh alone, and the bundled snowman picture
with a three-region mask (its lower half, the quarter above, the top quarter). Measured per process: wall
seconds, the peak resident set (``os.wait4``'s, the process alone), the parts made, what the command said
before it started (its estimate, ``estimate_seconds``), the parts step's own seconds from then to its last part
(``drawing_seconds``: what the estimate is for), and the decoding's note. The tiny replica's random fields have a surface in
nearly every cell: these figures are the command's overheads and its bounds, not a model's compute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from source_paths import REPO

CASES = {
    "mesh_defaults": lambda folder: ["examples/house_mesh.glb"],
    "picture_and_mask_defaults": lambda folder: ["examples/snowman.png", "--mask", str(_mask(folder))],
}


def _mask(folder: Path) -> Path:
    width, height = Image.open(REPO / "examples" / "snowman.png").size
    mask = np.zeros((height, width), np.uint8)
    mask[height // 2:], mask[height // 4:height // 2], mask[:height // 4] = 1, 2, 3
    path = folder / "mask.png"
    Image.fromarray(mask).save(path)
    return path


def run_case(name: str, folder: Path) -> dict:
    command = [sys.executable, "-m", "img23d_backend", "parts", *CASES[name](folder), "--models", "tiny",
               "--out", str(folder / "runs"), "-v"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)   # the child's own peak, not the largest of every child's
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    lines = output.replace("\r", "\n").splitlines()
    said = [line for line in lines if re.search(r"about \d+ s", line)]
    # The parts step's own clock: each progress line after the estimate ends with its seconds since the estimate
    # was said (loading the networks, drawing, decoding, cleaning, encoding the history), the last one's the whole.
    clock = [float(found.group(1)) for line in lines if line.startswith("[parts")
             for found in [re.search(r"\((\d+(?:\.\d+)?) s\)$", line.strip())] if found]
    estimate = re.search(r"about (\d+) s", said[0]) if said else None
    return {"command": " ".join(command[1:]), "exit": process.returncode, "seconds": round(seconds, 1),
            "drawing_seconds": clock[-1] if clock else None,
            "estimate_seconds": int(estimate.group(1)) if estimate else None,
            "peak_rss_gb": round(usage.ru_maxrss * 1024 / 1e9, 2),
            "parts": sum(1 for line in lines if re.match(r"part_\d+: .*\.glb", line)),
            "estimate_said": said[0].strip() if said else "",
            "note": next((line[len("note: "):] for line in lines if line.startswith("note: ")), "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU",
               "load_average_start": os.getloadavg()[0], "cases": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.only:
            results["cases"][name] = run_case(name, Path(scratch))
            print(name, json.dumps(results["cases"][name], indent=1), flush=True)
    results["load_average_end"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
