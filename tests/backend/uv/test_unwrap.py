"""UV unwrapping in a worker process: the same unwrap as in the job's process, a dead worker
falls back to unwrapping here, and a cancelled wait ends at once."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import trimesh
from img23d_protocol import ErrorCode, ProtocolError

from img23d_backend.env.job_control import CancelToken
from img23d_backend.uv.uvs import with_uvs
from img23d_backend.uv.unwrap import Arrays, Unwrapper, unwrap_arrays

WAIT = 60.0  # seconds a worker may take to start and answer before the test fails


def _sphere() -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=3)


# Worker functions: module level, so the spawned worker can import them by name.
def _which_process(vertices: np.ndarray, faces: np.ndarray) -> Arrays:
    return np.array([os.getpid()]), faces, vertices


def _dies(vertices: np.ndarray, faces: np.ndarray) -> Arrays:
    os._exit(3)  # the worker killed mid-task, as an out-of-memory kill would


def _slow(vertices: np.ndarray, faces: np.ndarray) -> Arrays:
    time.sleep(3)
    return unwrap_arrays(vertices, faces)


def _result_within(unwrapper: Unwrapper, key: str) -> Arrays:
    started = time.monotonic()
    result = unwrapper.result(key)
    assert time.monotonic() - started < WAIT, f"the UV worker took over {WAIT} s to answer"
    return result


def test_the_worker_gives_the_unwrap_the_job_process_would_make() -> None:
    mesh = _sphere()
    with Unwrapper(CancelToken()) as unwrapper:
        unwrapper.submit("ball", mesh.vertices, mesh.faces)
        vertices, faces, uv = _result_within(unwrapper, "ball")
    here = with_uvs(mesh)
    assert np.array_equal(vertices, here.vertices) and np.array_equal(faces, here.faces)
    assert np.array_equal(uv, here.visual.uv)
    assert np.array_equal(with_uvs(mesh, (vertices, faces, uv)).visual.uv, here.visual.uv)


def test_the_unwrap_runs_in_another_process() -> None:
    mesh = _sphere()
    with Unwrapper(CancelToken(), work=_which_process) as unwrapper:
        unwrapper.submit("ball", mesh.vertices, mesh.faces)
        pid, _, _ = _result_within(unwrapper, "ball")
    assert int(pid[0]) != os.getpid()


def test_a_worker_that_dies_is_replaced_by_unwrapping_here(caplog: pytest.LogCaptureFixture) -> None:
    mesh = _sphere()
    with Unwrapper(CancelToken(), work=_dies) as unwrapper:
        unwrapper.submit("ball", mesh.vertices, mesh.faces)
        vertices, faces, uv = _result_within(unwrapper, "ball")
    expected = unwrap_arrays(mesh.vertices, mesh.faces)
    assert all(np.array_equal(a, b) for a, b in zip((vertices, faces, uv), expected))
    assert "the UV worker stopped" in caplog.text


def test_a_cancelled_job_stops_waiting_for_the_worker() -> None:
    mesh = _sphere()
    cancel = CancelToken()
    with Unwrapper(cancel, work=_slow) as unwrapper:
        unwrapper.submit("ball", mesh.vertices, mesh.faces)
        cancel.cancel()
        started = time.monotonic()
        with pytest.raises(ProtocolError) as caught:
            unwrapper.result("ball")
        assert caught.value.code is ErrorCode.CANCELLED
        assert time.monotonic() - started < 1.0, "waiting went on after the job was cancelled"


@pytest.mark.parametrize("size", [1e-3, 1e4])
def test_a_mesh_far_from_a_unit_across_unwraps_as_one_does(size: float) -> None:
    """xatlas's tolerances are in units: a ball a millimetre across got NaN UVs (a file the validator refused, said
    as a success), a centimetre's a tenth of its texels. Out of reach, it is unwrapped at one unit across."""
    ball = trimesh.creation.icosphere(subdivisions=2)
    _, faces, unit = unwrap_arrays(ball.vertices, ball.faces)
    vertices, scaled_faces, uv = unwrap_arrays(ball.vertices * size, ball.faces)
    assert np.isfinite(uv).all() and uv.min() >= 0.0 and uv.max() <= 1.0
    assert np.allclose(vertices.max(axis=0) - vertices.min(axis=0), size * np.ptp(ball.vertices, axis=0))

    def area(points: np.ndarray, triangles: np.ndarray) -> float:
        corners = points[triangles]
        return float(np.abs(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])).sum() / 2)

    assert area(uv, scaled_faces) == pytest.approx(area(unit, faces), rel=0.05)
