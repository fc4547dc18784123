"""The finishing step as a job calls it, once per object after its clean-up: the topology asked
for (``retopo``), progress said on the job's channel, and the record its manifest keeps.

    result, record = finish_mesh(vertices, faces, RetopoSettings("quads", 5000), cancel, progress, "chair")

``result.triangles`` (and ``result.vertices``) is what goes into the GLB; ``result.quads``, when
not None, is the quad topology to keep beside it (quad k is triangles 2k and 2k + 1) so the add-on
can restore quads that glTF cannot carry. ``record.to_dict()`` is the manifest's entry. A fallback
is said once, as the step's last progress message; the record keeps the same sentence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..env.job_control import CancelToken, ProgressFn
from .retopo import RetopoResult, RetopoSettings, retopologize

STAGE = "finish"


@dataclass(frozen=True)
class FinishRecord:
    """What the run's manifest keeps about one object's finish (the issue's list: faces in and
    out, method, fallback, seconds)."""

    topology: str
    faces_target: int | None    # the budget or target; None for "as-generated"
    method: str                 # "as-generated", "quadric" or "instant-meshes"
    faces_in: int
    faces_out: int              # a quad counts as one face
    quads: bool
    fallback: str | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _asked(settings: RetopoSettings) -> str:
    if settings.topology == "quads":
        return f"{settings.faces:,} quads"
    return f"at most {settings.faces:,} triangles"


def finish_mesh(vertices: np.ndarray, faces: np.ndarray, settings: RetopoSettings,
                cancel: CancelToken | None = None, progress: ProgressFn | None = None,
                name: str = "the object") -> tuple[RetopoResult, FinishRecord]:
    """One object's finish: ``retopologize`` with progress on the job's channel, and its record."""
    if settings.topology != "as-generated" and progress is not None:
        progress(STAGE, 0, 1, f"{name}: remeshing to {_asked(settings)}")
    result = retopologize(vertices, faces, settings, cancel)
    if settings.topology != "as-generated" and progress is not None:
        made = f"{result.faces_out:,} {'quads' if result.quads is not None else 'triangles'}"
        progress(STAGE, 1, 1, f"{name}: {result.fallback}" if result.fallback else f"{name}: {made}")
    record = FinishRecord(settings.topology, None if settings.topology == "as-generated" else settings.faces,
                          result.method, result.faces_in, result.faces_out, result.quads is not None,
                          result.fallback, round(result.seconds, 3))
    return result, record
