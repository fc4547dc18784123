"""The Python API for pipelines: generate, retexture, retopo, relayout and batch, with typed options and results.

The commands (``generate``, ``batch``, ``retexture``, ``retopo``, ``relayout``) run this same code.
Any job finishes its objects as game-ready meshes with ``JobOptions(topology="quads" or "triangles",
face_target=..., bake_size=...)``::

    from img23d_backend import api

    if __name__ == "__main__":   # img23d's worker processes import the script again: see env/spawned_main.py
        # Many jobs, models loaded once:
        with api.Session(out="runs", models=api.Models(device="cuda")) as session:
            result = session.generate("house.png", ["house", "chimney"], api.JobOptions(texture=False))
            made = session.generate(prompt="a wooden barrel beside a small house", names="auto")  # from text
            print(result.run_dir, [m.mesh for m in result.meshes if m.status == "done"])
            painted = session.retexture("statue.glb", "statue.png")   # painted.mesh (a GLB), .texture, .uvs
            low = session.retopo("statue.glb", api.JobOptions(topology="quads", face_target=5000))  # .mesh, .finish

        # A resumable batch, here (one worker per GPU) or on a Ray cluster (ray_address="HOST:PORT"):
        report = api.batch(["pictures/"], out="runs", names="auto", options=api.JobOptions(texture=False))
        print(report.counts, report.record)           # e.g. {"done": 40, "skipped": 2, "failed": 1, ...}

        layout = api.relayout(result.run_dir, fov_degrees=40)   # camera and placements, no generating

Every failure of a whole job raises ``ProtocolError`` (``.code``, ``.message``); a job whose
names were only partly found returns, those meshes marked ``failed`` (``result.failed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from img23d_protocol import JobOptions, ProtocolError

from .batch.driver import BatchEvent, BatchReport, batch
from .env.job_control import CancelToken
from .layout.relayout import RelayoutResult, relayout
from .session import AUTO, GenerateResult, MeshResult, Models, RetextureResult, RetopoResult, Session

__all__ = ["AUTO", "BatchEvent", "BatchReport", "CancelToken", "GenerateResult", "JobOptions", "MeshResult", "Models", "ProtocolError",
           "RelayoutResult", "RetextureResult", "RetopoResult", "Session", "batch", "generate", "relayout", "retexture",
           "retopo"]


def generate(image: str | Path = "", names: Sequence[str] | str | None = None, *, prompt: str = "",
             out: str | Path = "img23d-runs", options: JobOptions | None = None,
             models: Models | None = None) -> GenerateResult:
    """One Generate job in a session of its own (a pipeline with many pictures: ``Session`` or ``batch``):
    from ``image``, or with ``prompt`` (and no image) from the picture the image editor makes of it, as
    ``generate --prompt`` does (``names="auto"``: the names suggested from that picture)."""
    return Session(out, models).generate(image, names, options, prompt=prompt)


def retexture(mesh: str | Path, image: str | Path, *, out: str | Path = "img23d-runs",
              options: JobOptions | None = None, models: Models | None = None, name: str = "mesh") -> RetextureResult:
    """One Re-texture job in a session of its own."""
    return Session(out, models).retexture(mesh, image, options, name=name)


def retopo(mesh: str | Path, *, out: str | Path = "img23d-runs", options: JobOptions | None = None,
           models: Models | None = None, name: str = "mesh") -> RetopoResult:
    """One Retopo job in a session of its own (no model is loaded: any ``models`` will do)."""
    return Session(out, models).retopo(mesh, options, name=name)
