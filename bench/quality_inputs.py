"""What bench/quality.py accepts, each refusal one sentence: its arguments (argparse types, so a bad
one is argparse's own error, exit 2) and its meshes (``BadMesh``: a mesh that cannot be read, holds
no triangles, has a corner that is not a number or no surface, or lies too far from its reference to
measure before alignment). A bad mesh costs its own row only: the harness says why and goes on."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import trimesh

# Before alignment the generated mesh is measured in the reference's [-1, 1] frame; the distance grid
# over it grows with the square of its size there (1e4 times too large asked 729 GiB), so a mesh
# reaching past this is left unmeasured before alignment, and said so.
FAR = 100.0


class BadMesh(Exception):
    """A mesh the harness cannot measure; the message says which and why, in one sentence."""


def load_mesh(path: Path, role: str) -> trimesh.Trimesh:
    """The mesh at ``path`` as one Trimesh (``role``: "reference" or "generated", for the sentence)."""
    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh's loaders raise whatever their parser meets (ValueError, KeyError, ...)
        raise BadMesh(f"the {role} mesh {path.name} cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise BadMesh(f"the {role} mesh {path.name} holds no triangles to measure")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    used = np.unique(np.asarray(mesh.faces).ravel())
    bad = int(np.count_nonzero(~np.isfinite(vertices[used]).all(axis=1)))
    if bad:
        raise BadMesh(f"the {role} mesh {path.name} has {bad} corner(s) that are not numbers (NaN or infinite)")
    triangles = vertices[np.asarray(mesh.faces)]
    area = float(np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]),
                                axis=1).sum()) / 2
    extent = float(np.max(np.ptp(vertices[used], axis=0)))
    if not area > 1e-12 * max(extent, 1e-300) ** 2:
        raise BadMesh(f"the {role} mesh {path.name} has no surface: every face has zero area")
    return mesh


def too_far(framed: np.ndarray, name: str) -> str | None:
    """Why the generated mesh (``framed``: its vertices in the reference's [-1, 1] frame) is not measured
    before alignment, or None when it lies near enough."""
    reach = float(np.max(np.abs(framed)))
    if reach <= FAR:
        return None
    return (f"the generated mesh {name} reaches {reach:.3g} from the reference's centre in the reference's "
            f"[-1, 1] frame (more than {FAR:g}): its figures before alignment are left out")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def picture_size(text: str) -> int:
    value = positive_int(text)
    if not 16 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"{value} pixels is outside 16..4096")
    return value


def elevations(text: str) -> tuple[float, ...]:
    """Comma-separated degrees, each within -90..90."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of degrees") from None
    if not all(math.isfinite(v) and -90 <= v <= 90 for v in values):
        raise argparse.ArgumentTypeError(f"{text}: each elevation must be within -90..90 degrees")
    return values


def folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    return path
