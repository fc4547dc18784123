"""One version's side of ``bench/host_stages.py``: its stages run on request, in the process whose ``PYTHONPATH``
names that version's backend. A request a line on stdin (``{"stage": ...}``), an answer a line on stdout."""

from __future__ import annotations

import inspect
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import trimesh
from PIL import Image

from img23d_backend.families.hunyuan3d import paint
from img23d_backend.mesh import cleanup
from img23d_backend.uv.unwrap import unwrap_arrays


class Stages:
    def __init__(self, texture_size: int) -> None:
        self.settings = paint.PaintSettings(texture_size=texture_size, render_size=texture_size)
        self.folder = Path(tempfile.mkdtemp(prefix="img23d-host-stage-"))

    def setup(self, mesh: str | None, layout: str, make_layout: bool) -> dict[str, Any]:
        if mesh:
            loaded = trimesh.load(mesh, force="mesh", process=False)
        else:
            from ai_like_meshes import make  # scripts/, on the path the driver gave

            loaded = make("mug", seed=0, faces=40_000)
        self.vertices, self.faces = np.asarray(loaded.vertices, np.float64), np.asarray(loaded.faces, np.int64)
        if make_layout:
            vertices, faces, uv = unwrap_arrays(self.vertices, self.faces)
            np.savez(layout, vertices=vertices, faces=faces, uv=uv)
        arrays = np.load(layout)
        self.unwrapped = trimesh.Trimesh(vertices=arrays["vertices"], faces=arrays["faces"], process=False,
                                         visual=trimesh.visual.TextureVisuals(uv=arrays["uv"]))
        self.render = paint._mesh_renderer(self.unwrapped, self.settings, "cpu")
        # The views show the surface's positions: every texel's true colour is the position it holds.
        _, self.views = paint._render_conditions(self.render, self.settings)
        attribute = (0.5 - self.render.vtx_pos[:, :3] / self.render.scale_factor).contiguous()
        self.truth = (self.render.uv_feature_map(attribute).clamp(0, 1) * 255).numpy()
        self.texture, self.painted = paint._bake(self.render, self.views, self.settings, lambda message: None)
        self.big = _split(self.vertices, self.faces, 3)
        return {"faces": len(self.faces), "layout_vertices": len(arrays["vertices"])}

    def unwrap(self, first: bool) -> dict[str, Any]:
        seconds, (vertices, faces, uv) = _timed(lambda: unwrap_arrays(self.vertices, self.faces))
        return {"seconds": seconds, "vertices_out": len(vertices)}

    def bake(self, first: bool) -> dict[str, Any]:
        """The paint step's condition renders and its bake, then the material maps' bake of the same views, as a
        target with material maps has them (today's renders find each camera's trusted pixels for both bakes)."""
        keeps_cameras = "geometry" in inspect.signature(paint._bake).parameters
        kept: dict = {}
        extra = (kept,) if keeps_cameras else ()
        render, _ = _timed(lambda: paint._render_conditions(self.render, self.settings, *extra))
        colour, _ = _timed(lambda: paint._bake(self.render, self.views, self.settings, lambda m: None, *extra))
        maps, _ = _timed(lambda: paint._bake(self.render, self.views, self.settings, lambda m: None, *extra))
        return {"seconds": render + colour + maps, "render_s": round(render, 3), "colour_s": round(colour, 3),
                "maps_s": round(maps, 3)}

    def fill(self, first: bool) -> dict[str, Any]:
        seconds, filled = _timed(lambda: _fill_now(self.unwrapped, self.texture, self.painted))
        self.filled = filled
        if not first:
            return {"seconds": seconds}
        covered = np.asarray(self.render.uv_feature_map(torch.ones_like(self.render.vtx_pos[:, :1]))[..., 0] > 0.5)
        unseen = covered & ~self.painted.numpy()
        error = np.abs(filled.astype(np.float64) - self.truth).max(axis=-1)
        painted = self.painted.numpy() & covered
        return {"seconds": seconds, "unseen_texels": int(unseen.sum()), "charts_texels": int(covered.sum()),
                # levels of 255 from the truth: the unseen texels (what the fill makes), the painted ones (the bake)
                "unseen_error_mean": round(float(error[unseen].mean()), 2),
                "unseen_error_p90": round(float(np.percentile(error[unseen], 90)), 2),
                "painted_error_mean": round(float(error[painted].mean()), 2)}

    def export(self, first: bool) -> dict[str, Any]:
        filled = getattr(self, "filled", None)
        if filled is None:
            filled = _fill_now(self.unwrapped, self.texture, self.painted)
        mesh = paint._textured(self.unwrapped, Image.fromarray(filled, "RGB"))
        mesh.visual.material.metallicRoughnessTexture = Image.fromarray(filled[..., ::-1].copy(), "RGB")
        path = self.folder / "target.glb"
        seconds, _ = _timed(lambda: _write(mesh, path))
        return {"seconds": seconds, "bytes": path.stat().st_size}

    def cleanup(self, first: bool) -> dict[str, Any]:
        vertices, faces = self.big
        seconds, (_, out, stats) = _timed(lambda: cleanup.clean_mesh(vertices, faces))
        answer = {"seconds": seconds, "faces_in": len(faces), "faces_out": len(out)}
        if first:
            answer["job_thread_longest_wait_s"] = round(_longest_wait(lambda: cleanup.clean_mesh(vertices, faces)), 3)
        return answer


def _write(mesh: Any, path: Path) -> None:
    """The GLB as the version's Generate writes it."""
    try:
        from img23d_backend.gltf.writer import export_glb
    except ImportError:  # before issue 89: trimesh's exporter as it is
        mesh.export(str(path), file_type="glb")
    else:
        try:
            from img23d_backend.gltf.made_by import MadeBy
        except ImportError:  # before issue 91: no asset credits
            export_glb(mesh, path)
        else:
            export_glb(mesh, path, MadeBy())


def _split(vertices: np.ndarray, faces: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """bench/cleanup.py's ``split``: each triangle into n x n, shared points merged. That script puts this
    tree's backend first on the path when imported; the path is put back, so that what this version imports
    later is its own."""
    path = list(sys.path)
    try:
        from cleanup import split
    finally:
        sys.path[:] = path
    return split(vertices, faces, n)


def _fill_now(unwrapped: Any, texture: Any, painted: Any) -> np.ndarray:
    """The paint step's fill as the version at hand has it (``_filled`` since the fill may be left for later)."""
    if hasattr(paint, "_filled"):
        return np.asarray(paint._filled(unwrapped, texture, painted, None))
    return paint._fill(unwrapped, texture, painted)


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _longest_wait(work: Callable[[], Any]) -> float:
    """``work`` on a thread (as the tail runs the clean-up) while this thread wakes every millisecond: the
    longest it waited for a turn (Python's lock held by the other all along, or not)."""
    worker = threading.Thread(target=work)
    longest, last = 0.0, time.perf_counter()
    worker.start()
    while worker.is_alive():
        time.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    return longest


def serve(root: Path, texture_size: int) -> int:
    torch.set_num_threads(1)
    answers, sys.stdout = sys.stdout, sys.stderr  # whatever the code prints stays off the answers' channel
    stages = Stages(texture_size)
    for line in sys.stdin:
        request = json.loads(line)
        stage = request.pop("stage")
        answer = getattr(stages, stage)(**request)
        print(json.dumps(answer), file=answers, flush=True)
    return 0
