"""Measure the shape stage's real memory peak, to calibrate ``models/preflight.py``'s estimate.

    .venv/bin/python bench/preflight_calibration.py [--octree 128 256 384] [--batch 1 3]
                                                    [--limit-gb 14] [--json out.json]
                                                    [--chain "house, chimney, barrel"]

Each (octree resolution, batch) runs in a fresh child process that loads the tiny shape model
on the CPU, notes its resident set, runs hy3dgen's whole shape call (DiT, volume decoding,
marching cubes) for ``batch`` cut-outs, then cleans each mesh as the engine does, and reports
the kernel's peak resident set (``ru_maxrss``) above that baseline. A watchdog in the child
ends it cleanly when its resident set passes ``--limit-gb``, so a measurement never exhausts a
shared machine; such a run is reported as over the limit, not as a number.

``--chain NAMES`` instead runs the whole command line (``generate`` on house_scene.png, untextured)
at each octree resolution and reports the process's peak resident set and the manifest's peak
per stage: what a user's job really takes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBJECT = ROOT / "examples" / "snowman.png"

_CHILD = r"""
import json, os, resource, sys, threading, time
import psutil
limit = int(sys.argv[3])
def watchdog():
    me = psutil.Process()
    while True:
        if me.memory_info().rss > limit:
            print(json.dumps({"over_limit": True}), flush=True)
            os._exit(5)
        time.sleep(0.01)
threading.Thread(target=watchdog, daemon=True).start()
import torch
torch.set_num_threads(2)
from PIL import Image
from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.hunyuan3d.shape import generate_shapes, shape_loader
from img23d_backend.mesh.shapes import ShapeSettings, mesh_arrays
from img23d_backend.catalog import tiny_model_set
from img23d_backend.models.registry import default_tiny_root
from img23d_backend.mesh.cleanup import clean_mesh
octree, batch = int(sys.argv[1]), int(sys.argv[2])
spec = tiny_model_set(default_tiny_root()).shape
loaded = shape_loader(spec)(spec.local_path, torch.device("cpu"))
image = Image.open(sys.argv[4]).convert("RGBA")
# One small warm-up so lazy imports and first-call allocations are in the baseline.
generate_shapes(loaded.obj, [image], [0], ShapeSettings(steps=1, octree_resolution=16, guidance_scale=5.0,
                batch_size=1), cancel=CancelToken(), progress=lambda *a: None)
base = psutil.Process().memory_info().rss
base_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
started = time.perf_counter()
meshes = generate_shapes(loaded.obj, [image] * batch, list(range(batch)),
                         ShapeSettings(steps=3, octree_resolution=octree, guidance_scale=5.0, batch_size=0),
                         cancel=CancelToken(), progress=lambda *a: None)
shape_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
faces = []
for mesh in meshes:
    if mesh is not None:
        v, f, _ = clean_mesh(*mesh_arrays(mesh), face_budget=40000)
        faces.append(len(f))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"octree": octree, "batch": batch, "baseline": base, "baseline_max": base_max,
                  "shape_peak": shape_peak, "peak_with_cleanup": peak,
                  "seconds": round(time.perf_counter() - started, 1), "faces": faces}), flush=True)
"""


def _child_env() -> dict[str, str]:
    """This checkout's backend and protocol, offline, two threads (a shared machine)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "backend"), str(ROOT / "protocol")]),
                OMP_NUM_THREADS="2", HF_HUB_OFFLINE="1")


def measure(octree: int, batch: int, limit: int) -> dict:
    env = _child_env()
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(octree), str(batch), str(limit), str(SUBJECT)],
                          capture_output=True, text=True, env=env, timeout=3600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"octree": octree, "batch": batch, "error": proc.stderr[-2000:]}
    result = json.loads(lines[-1])
    result.update(octree=octree, batch=batch)
    if "shape_peak" in result:
        points = (octree + 1) ** 3
        result["above_baseline"] = result["peak_with_cleanup"] - result["baseline"]
        result["bytes_per_point_per_target"] = round(result["above_baseline"] / points / batch, 1)
    return result


def measure_chain(names: str, octree: int, limit: int, out: Path, steps: int = 30, texture_size: int = 0) -> dict:
    """The whole CLI job in a child; its peak RSS sampled (and the child stopped above ``limit``).
    ``texture_size``: paint the snowman (no names) at that size instead of the untextured house."""
    import psutil
    import time

    env = _child_env()
    data = ROOT / "examples"
    job = (["generate", str(data / "snowman.png"), "--texture-size", str(texture_size), "--paint-steps", "2",
            "--delight-steps", "2"] if texture_size else
           ["generate", str(data / "house_scene.png"), "--targets", names, "--no-texture"])
    proc = subprocess.Popen([sys.executable, "-m", "img23d_backend", *job, "--models", "tiny", "--device", "cpu",
                             "--steps", str(steps), "--octree-resolution", str(octree), "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child, peak, started = psutil.Process(proc.pid), 0, time.perf_counter()
    while proc.poll() is None:
        try:
            peak = max(peak, child.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        if peak > limit:
            proc.kill()
            break
        time.sleep(0.01)
    _, err = proc.communicate()
    result = {"names": names, "octree": octree, "steps": steps, "texture_size": texture_size, "peak_rss": peak,
              "over_limit": peak > limit, "returncode": proc.returncode,
              "seconds": round(time.perf_counter() - started, 1)}
    manifests = sorted(out.glob("*/manifest.json"), key=lambda m: m.stat().st_mtime)
    if manifests:
        manifest = json.loads(manifests[-1].read_text())
        result["stage_peaks"] = manifest["memory_peaks"]
        result["faces"] = [r.get("faces") for r in manifest["records"]]
    if proc.returncode not in (0, 3):
        result["stderr"] = err[-1500:]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--octree", type=int, nargs="+", default=[128, 256, 384])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--limit-gb", type=float, default=14.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--chain", help="comma-separated names: measure the whole CLI job instead")
    parser.add_argument("--steps", type=int, default=30, help="denoising steps of the --chain jobs")
    parser.add_argument("--texture-sizes", type=int, nargs="+",
                        help="measure painting the snowman at these texture sizes instead")
    args = parser.parse_args()
    results = []
    if args.texture_sizes:
        import tempfile

        with tempfile.TemporaryDirectory() as runs:
            for size in args.texture_sizes:
                result = measure_chain("", args.octree[0], int(args.limit_gb * (1 << 30)), Path(runs), args.steps,
                                       texture_size=size)
                results.append(result)
                print(json.dumps(result), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    if args.chain:
        import tempfile

        with tempfile.TemporaryDirectory() as runs:
            for octree in args.octree:
                result = measure_chain(args.chain, octree, int(args.limit_gb * (1 << 30)), Path(runs), args.steps)
                results.append(result)
                print(json.dumps(result), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    for octree in args.octree:
        for batch in args.batch:
            result = measure(octree, batch, int(args.limit_gb * (1 << 30)))
            results.append(result)
            print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
