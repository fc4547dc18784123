"""A misbehaving stand-in for the backend, for fault-injection tests of the add-on's client.

    fake_backend.py MODE [the real backend's arguments, ignored]

It speaks just enough of the protocol to reach the fault named by MODE:
  hang            hello, then accepts a job and never says another word
  garbage         hello, then answers a job with noise, a partial line, and then a real result
  version         hello with protocol major 99
  exit_at_start   prints an import error on stderr and exits 1 before any hello
  truncated_glb   hello, then a job whose second mesh file is cut in half
  small_memory    a hello whose limits say octree 128 and texture 1024 at most; a job that
                  arrives all the same is noted in <runs>/_fake/jobs.jsonl and refused
  cut_off         hello, then a job whose grounding answer reached its token budget: the house
                  found (a mesh for generate), the other names not, and ``cut_off`` in the result
  retopo          hello, then a retopo job answered as the real backend answers one
                  (docs/game-ready.md): the mesh file it got noted in <runs>/_fake/retopo/got.json,
                  a finished GLB of 4 quads as ``mesh`` after the ``high_mesh``, and a fallback
                  sentence in the result's target record
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

MESH = Path(__file__).resolve().parents[2] / "examples" / "house_mesh.glb"  # a closed mesh the repository made


def send(message: dict) -> None:
    sys.stdout.write(json.dumps({"v": 1, **message}) + "\n")
    sys.stdout.flush()


def hello(major: int = 1, **extra) -> None:
    send({"type": "hello", "role": "backend", "protocol": [major, 0], "version": "fake", "device": "cpu",
          "memory": {"free": 1, "total": 2}, "models": {"grounding": "fake", "matting": "fake", "shape": "fake"},
          **extra})


def next_job() -> dict:
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("type") in ("generate", "detect", "retopo"):
            return message
    sys.exit(0)


def runs_dir(argv: list[str]) -> Path:
    return Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path.cwd()


def main() -> int:
    mode, argv = sys.argv[1], sys.argv[2:]
    if mode == "exit_at_start":
        print("ModuleNotFoundError: No module named 'torch'", file=sys.stderr)
        return 1
    if mode == "version":
        hello(major=99)
        time.sleep(30)
        return 0
    if mode == "small_memory":
        hello(memory={"free": 3_000_000_000, "total": 8_000_000_000},
              limits={"octree_resolution": 128, "texture_size": 1024})
        jobs = runs_dir(argv) / "_fake" / "jobs.jsonl"
        jobs.parent.mkdir(parents=True, exist_ok=True)
        while True:
            job = next_job()
            with open(jobs, "a") as noted:
                noted.write(json.dumps(job) + "\n")
            send({"type": "error", "id": job["id"], "code": "out_of_memory", "message": "the fake refuses jobs"})
    hello()
    job = next_job()
    if mode == "hang":
        time.sleep(3600)
        return 0
    run = runs_dir(argv) / "_fake" / mode  # not a real run folder: no manifest
    run.mkdir(parents=True, exist_ok=True)
    send({"type": "artifact", "job": job["id"], "kind": "run", "path": str(run)})
    if mode == "garbage":
        sys.stdout.write("Loading checkpoint shards: 100%|##########|\n\x00\xff not json {\n")
        sys.stdout.write('{"v": 1, "type": "progress", "job": "')  # a partial line...
        sys.stdout.write("\n")                                       # ...cut off
        sys.stdout.flush()
        good = run / "house.glb"
        shutil.copy(MESH, good)
        send({"type": "artifact", "job": job["id"], "kind": "mesh", "path": str(good), "target": "house",
              "instance": 1, "box": [100, 100, 500, 900], "image_size": [1024, 1024], "seed": 0})
        send({"type": "result", "id": job["id"], "ok": True, "data": {"run_dir": str(run)}})
    elif mode == "truncated_glb":
        good, cut = run / "house.glb", run / "chimney.glb"
        shutil.copy(MESH, good)
        data = MESH.read_bytes()
        cut.write_bytes(data[: len(data) // 2])
        for target, path, box in (("house", good, [100, 100, 500, 900]), ("chimney", cut, [600, 50, 700, 500])):
            send({"type": "artifact", "job": job["id"], "kind": "mesh", "path": str(path), "target": target,
                  "instance": 1, "box": box, "image_size": [1024, 1024], "seed": 0})
        send({"type": "result", "id": job["id"], "ok": True, "data": {"run_dir": str(run)}})
    elif mode == "retopo":
        _answer_retopo(job, run)
    elif mode == "cut_off":
        # What the real backend's result says after an answer cut off at its budget of 868 tokens.
        summary = {"run_dir": str(run), "cut_off": True, "answer_tokens": 868, "token_budget": 868,
                   "stop_reason": "budget", "duplicates_dropped": 0}
        if job["type"] == "detect":
            send({"type": "result", "id": job["id"], "ok": True, "data": {
                **summary, "image_size": [1024, 1024], "boxes": {"house": [[100, 100, 500, 900]], "chimney": []},
                "not_found": ["chimney"]}})
        else:
            mesh = run / "house.glb"
            shutil.copy(MESH, mesh)
            send({"type": "artifact", "job": job["id"], "kind": "mesh", "path": str(mesh), "target": "house",
                  "instance": 1, "box": [100, 100, 500, 900], "image_size": [1024, 1024], "seed": 0})
            send({"type": "result", "id": job["id"], "ok": True, "data": summary})
    for _ in sys.stdin:  # stay until the add-on closes our stdin, like the real backend
        pass
    return 0


def _answer_retopo(job: dict, run: Path) -> None:
    import numpy as np  # the backend's Python has it; the other modes need nothing

    from finished_glb import grid, write_glb

    with np.load(job["mesh"], allow_pickle=False) as data:
        got = {name: list(data[name].shape) for name in data.files}
    (run / "got.json").write_text(json.dumps({"request": job, "arrays": got}))
    positions, triangles, uvs, quads = grid(2)
    (run / "high").mkdir(exist_ok=True)
    high = write_glb(run / "high" / "statue.glb", positions, triangles, uvs, None)
    low = write_glb(run / "statue.glb", positions, triangles, uvs, quads)
    for kind, path in (("high_mesh", high), ("mesh", low)):
        send({"type": "artifact", "job": job["id"], "kind": kind, "path": str(path), "target": job["name"],
              "instance": 1})
    fallback = "the quads failed their check (holes): made triangles instead"
    send({"type": "result", "id": job["id"], "ok": True, "data": {
        "run_dir": str(run), "targets": [{"target": job["name"], "finish": {"fallback": fallback}}]}})


if __name__ == "__main__":
    sys.exit(main())
