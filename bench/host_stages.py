"""The host's stages of a textured target, today's code against a commit's, side by side in one run (issue 89).

    .venv/bin/python bench/host_stages.py [--before 8bb991bc] [--repeat 3] [--json FILE] [--tiny-job]

Each stage as a textured Generate runs it, on the real Hunyuan3D-2 output (``../shared/data/
hunyuan3d_shape_output.glb``, 40,000 faces; where it is absent, a generated-like mug of as many faces made
by ``scripts/ai_like_meshes.py``) and a 2048 px atlas rendered at 2048 px:

  unwrap    ``uv.unwrap.unwrap_arrays`` of the mesh, as each version has it
  bake      the paint step's condition renders of six views (``paint._render_conditions``) and its bake of
            them (``paint._bake``), then the material maps' bake of the same views, as a target with material
            maps has them (each part's seconds under ``figures``)
  fill      the texels no view saw (``paint._filled``), once; and each fill's error against the truth on the
            charts' unseen texels (the views show the surface's positions, so every texel's colour is known)
  export    the GLB of the painted mesh with its two 2048 px textures (colour, metallic-roughness)
  cleanup   the clean-up of the mesh split 3 x 3 (360,000 faces, as surface extraction makes it) down to
            the 40,000-face budget; and, once, the longest the job's thread waited for Python's lock while
            the clean-up ran on the tail's thread

Both versions run as real code: the earlier commit's ``backend/img23d_backend`` and ``protocol`` come out of
git (``git archive``) into a temporary folder, and each version runs in its own worker process with its own
``PYTHONPATH``. The stages alternate between the two workers stage by stage and round by round (which goes
first alternates too), so that the load of a shared machine falls on both alike: the ratio new / old of the
medians is what a run says. Both bake, fill and export the same UV layout (the earlier commit's unwrap).

``--tiny-job`` adds the CPU path (item 7): one textured Generate with the tiny models and the default texture
settings (``generate examples/house_scene.png --targets house --models tiny``), each version once, in its own
process, each stage's seconds from its manifest.
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
REAL_MESH = ROOT.parent / "shared" / "data" / "hunyuan3d_shape_output.glb"
STAGES = ("unwrap", "bake", "fill", "export", "cleanup")
BEFORE = "8bb991bc"  # the code issue 89's work started from


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--texture-size", type=int, default=2048)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--tiny-job", action="store_true", help="also one textured tiny Generate per version")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        from host_stages_worker import serve  # bench/, beside this script; imports the version's backend

        return serve(args.worker, args.texture_size)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if unknown := set(stages) - set(STAGES):
        parser.error(f"--stages takes some of {', '.join(STAGES)}; got {', '.join(sorted(unknown))}")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="img23d-host-stages-") as tmp:
        folder = Path(tmp)
        old = earlier_tree(args.before, folder)
        mesh = REAL_MESH if REAL_MESH.is_file() else None
        if mesh is None:
            print(f"{REAL_MESH} is absent: the stages run on a generated-like mug of 40,000 faces instead",
                  file=sys.stderr)
        rows, notes = compare(args, stages, {"before": old, "now": ROOT}, folder, mesh)
        tiny = tiny_jobs(args, {"before": old, "now": ROOT}, folder) if args.tiny_job else None
    report = {
        "what": "the host's stages of a textured target: this tree against an earlier commit, alternating",
        "before": args.before, "now": _head(), "mesh": str(mesh.name) if mesh else "ai_like_meshes.make('mug')",
        "texture_size": args.texture_size, "render_size": args.texture_size, "repeat": args.repeat,
        "device": f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores (no GPU)",
        "load_average": {"start": [round(x, 2) for x in load_start],
                         "end": [round(x, 2) for x in os.getloadavg()]},
        "stages": rows, "figures": notes,
        **({"tiny_textured_job": tiny} if tiny is not None else {}),
    }
    for stage, row in rows.items():
        print(f"{stage:8} before {row['before_s']:8.2f} s   now {row['now_s']:8.2f} s   ratio {row['ratio']:.3f}")
    if tiny is not None:
        print(f"tiny textured job: before {tiny['before']['seconds']:.1f} s, now {tiny['now']['seconds']:.1f} s, "
              f"ratio {tiny['ratio']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def compare(args: argparse.Namespace, stages: list[str], code: dict[str, Path], folder: Path,
            mesh: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each stage's seconds per version (median of ``--repeat``, alternating) and what else each measured."""
    layout = folder / "layout.npz"
    workers = {name: _Worker(name, root, args.texture_size) for name, root in code.items()}
    try:
        # One UV layout for both: the earlier commit's unwrap, made once before the rounds.
        for name in ("before", "now"):
            workers[name].ask({"stage": "setup", "mesh": str(mesh) if mesh else None, "layout": str(layout),
                               "make_layout": name == "before"})
        seconds: dict[str, dict[str, list[float]]] = {s: {"before": [], "now": []} for s in stages}
        notes: dict[str, dict[str, Any]] = {s: {} for s in stages}
        for round_number in range(args.repeat):
            order = ("before", "now") if round_number % 2 == 0 else ("now", "before")
            for stage in stages:
                for name in order:
                    answer = workers[name].ask({"stage": stage, "first": round_number == 0})
                    seconds[stage][name].append(answer.pop("seconds"))
                    if round_number == 0:
                        notes[stage][name] = answer
                    print(f"round {round_number + 1}: {stage} {name} {seconds[stage][name][-1]:.2f} s", file=sys.stderr)
    finally:
        for worker in workers.values():
            worker.close()
    rows = {}
    for stage, runs in seconds.items():
        before, now = statistics.median(runs["before"]), statistics.median(runs["now"])
        rows[stage] = {"before_s": round(before, 3), "now_s": round(now, 3), "ratio": round(now / before, 3),
                       "runs": {name: [round(x, 3) for x in values] for name, values in runs.items()}}
    return rows, notes


class _Worker:
    """One version's worker process: a JSON request a line in, a JSON answer a line out."""

    def __init__(self, name: str, root: Path, texture_size: int) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "backend"), str(root / "protocol"),
                                                           str(ROOT / "bench"), str(ROOT / "scripts")]))
        env.setdefault("HF_HUB_OFFLINE", "1")
        self.name = name
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", str(root), "--texture-size",
                                         str(texture_size)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env, cwd=str(ROOT))

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} worker stopped (exit {self.process.wait()}); its output is above")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def tiny_jobs(args: argparse.Namespace, code: dict[str, Path], folder: Path) -> dict[str, Any]:
    """One textured Generate with the tiny models and the default texture settings per version, one after the
    other (the earlier commit first), each in its own process: its wall seconds and its manifest's stages."""
    results = {}
    for name, root in code.items():
        runs = folder / f"runs-{name}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "backend"), str(root / "protocol")]))
        env.setdefault("HF_HUB_OFFLINE", "1")
        command = [sys.executable, "-m", "img23d_backend", "generate", str(ROOT / "examples" / "house_scene.png"),
                   "--targets", "house", "--models", "tiny", "--out", str(runs)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=str(folder))
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"the {name} tiny job failed ({done.returncode}): {done.stderr[-2000:]}")
        manifest = json.loads(next(runs.glob("*/manifest.json")).read_text())
        results[name] = {"seconds": round(seconds, 1), "stages": manifest.get("timings", {}),
                         "target": (manifest.get("records") or [{}])[0].get("timings", {})}
        print(f"tiny textured job, {name}: {seconds:.1f} s", file=sys.stderr)
    results["ratio"] = round(results["now"]["seconds"] / results["before"]["seconds"], 3)
    results["command"] = "generate examples/house_scene.png --targets house --models tiny (texture on, defaults)"
    return results


def _head() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
