"""The finishing step as a job calls it: progress on the job's channel, the fallback said once,
and the manifest's record agreeing with the mesh it describes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from skimage import measure

from img23d_backend.finish import instant_meshes
from img23d_backend.finish.retopo import RetopoSettings
from img23d_backend.finish.step import finish_mesh


def _ball() -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(-1.0, 1.0, 24)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    vertices, faces, _, _ = measure.marching_cubes(0.7 - np.sqrt(x * x + y * y + z * z), 0.0)
    return vertices, faces.astype(np.int64)


def _dies(vertices: np.ndarray, faces: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    os._exit(9)  # module level: the spawned worker imports it by name


def test_a_triangle_budget_is_reported_and_recorded() -> None:
    said: list[tuple[str, int, int, str]] = []
    vertices, faces = _ball()
    result, record = finish_mesh(vertices, faces, RetopoSettings("triangles", 800),
                                 progress=lambda *event: said.append(event), name="ball")
    assert [event[0] for event in said] == ["finish", "finish"]
    assert said[0][3] == "ball: remeshing to at most 800 triangles"
    assert said[-1][3] == f"ball: {len(result.triangles):,} triangles"
    assert record.to_dict() == {"topology": "triangles", "faces_target": 800, "method": "quadric",
                                "faces_in": len(faces), "faces_out": len(result.triangles), "quads": False,
                                "fallback": None, "seconds": record.seconds}


def test_a_fallback_is_said_once_and_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instant_meshes, "remesh_arrays", _dies)
    said: list[str] = []
    vertices, faces = _ball()
    result, record = finish_mesh(vertices, faces, RetopoSettings("quads", 500),
                                 progress=lambda stage, step, total, message: said.append(message), name="ball")
    assert result.fallback is not None and record.fallback == result.fallback
    assert sum(result.fallback in message for message in said) == 1
    assert record.method == "quadric" and not record.quads and record.faces_out == len(result.triangles) <= 500


def test_as_generated_says_nothing() -> None:
    said: list[tuple[str, int, int, str]] = []
    vertices, faces = _ball()
    result, record = finish_mesh(vertices, faces, RetopoSettings(), progress=lambda *event: said.append(event))
    assert said == [] and result.triangles is not None
    assert (record.method, record.faces_target, record.faces_out) == ("as-generated", None, len(faces))
