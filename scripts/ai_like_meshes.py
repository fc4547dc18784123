"""Meshes like a shape generator's output, made deterministically, for the game-ready benchmark.

    .venv/bin/python scripts/ai_like_meshes.py OUT_FOLDER [--faces 40000] [--seed 0]

A shape model (Hunyuan3D-2, TripoSG, Step1X-3D...) decodes a signed field on a grid and runs
marching cubes on it: what comes out is a closed triangle soup of about 40,000 faces (the
generators decimate to that), lumpy where the field is noisy, with parts only one or two cells
thick (a blade, a handle, a wire) and small loose bits (floaters) the field left beside the object.
This makes such meshes from noisy fields with exactly those parts, each from its own seed, as
GLB files (geometry only: the benchmark gives them a colour texture itself):

  ai-sword.glb    a lumpy grip and guard, a thin flat blade (a sheet two cells thick), two floaters
  ai-mug.glb      a noisy cup with a thin ring handle (a wire) and a floater inside the rim
  ai-lamp.glb     a noisy base, a thin wire stem, a cone-shell shade (a sheet) and three floaters

The grid is sized for the face count: marching cubes' triangles grow with the square of the cells,
so one trial surface (64 cells) gives the resolution that lands near ``--faces`` (within 10 %; never
below the trial's 64 cells). The sword, long and thin, needs 269 cells for its 40,000 triangles (about
9 s here); the mug and the lamp about 110 (under half a second). Same seed, same meshes, byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import trimesh
from scipy.ndimage import gaussian_filter
from skimage import measure

Field = Callable[[np.ndarray, np.ndarray, np.ndarray, Callable[[float, float], np.ndarray]], np.ndarray]
TRIAL_CELLS = 64  # the trial surface's grid: enough to predict the face count at any finer one


def _box(x: np.ndarray, y: np.ndarray, z: np.ndarray, half: tuple[float, float, float]) -> np.ndarray:
    """Signed distance inside an axis-aligned box (positive inside), the usual rounded-box formula."""
    q = np.stack([np.abs(x) - half[0], np.abs(y) - half[1], np.abs(z) - half[2]])
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=0)
    return -(outside + np.minimum(q.max(axis=0), 0.0))


def _ball(x: np.ndarray, y: np.ndarray, z: np.ndarray, centre: tuple[float, float, float], radius: float) -> np.ndarray:
    return radius - np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)


def sword(x: np.ndarray, y: np.ndarray, z: np.ndarray, noise: Callable[[float, float], np.ndarray]) -> np.ndarray:
    grip = 0.07 - np.sqrt(x * x + z * z) + noise(2.0, 0.02)
    grip = np.minimum(grip, 0.02 - np.abs(y + 0.7) + 0.2)  # from y = -0.92 to -0.48
    guard = _box(x, y + 0.45, z, (0.3, 0.04, 0.07)) + noise(2.0, 0.015)
    pommel = _ball(x, y, z, (0.0, -0.95, 0.0), 0.08) + noise(1.5, 0.02)
    # The blade: a sheet about two cells thick at the default resolution, tapering to a point.
    width = 0.12 * np.clip((0.95 - y) / 1.3, 0.0, 1.0)
    blade = np.minimum(np.minimum(width - np.abs(x), 0.018 - np.abs(z + 0.01 * np.sin(8 * y))), 0.95 - y)
    blade = np.minimum(blade, y + 0.45)
    floaters = np.maximum(_ball(x, y, z, (0.45, 0.3, 0.2), 0.03), _ball(x, y, z, (-0.4, -0.2, -0.25), 0.04))
    return np.maximum.reduce([grip, guard, pommel, blade, floaters])


def mug(x: np.ndarray, y: np.ndarray, z: np.ndarray, noise: Callable[[float, float], np.ndarray]) -> np.ndarray:
    radial = np.sqrt(x * x + z * z)
    outer = np.minimum(0.45 - radial, 0.5 - np.abs(y + 0.1)) + noise(3.0, 0.04)
    inner = np.minimum(0.38 - radial, 0.6 - np.abs(y - 0.1 - 0.08))  # open at the top, a floor at the bottom
    cup = np.minimum(outer, -inner)
    # The handle: a thin ring (a wire about two cells across) in the x-y plane beside the cup.
    ring = np.sqrt((np.sqrt((x - 0.55) ** 2 + (y + 0.1) ** 2) - 0.22) ** 2 + z * z)
    handle = np.where(x > 0.42, 0.028 - ring, -1.0) + noise(1.0, 0.006)
    floater = _ball(x, y, z, (-0.2, 0.55, 0.1), 0.035)
    return np.maximum.reduce([cup, handle, floater])


def lamp(x: np.ndarray, y: np.ndarray, z: np.ndarray, noise: Callable[[float, float], np.ndarray]) -> np.ndarray:
    radial = np.sqrt(x * x + z * z)
    base = np.minimum(0.35 - radial, 0.08 - np.abs(y + 0.85)) + noise(3.0, 0.05)
    stem = np.minimum(0.025 - radial, 0.6 - np.abs(y + 0.2)) + noise(1.0, 0.005)
    # The shade: a cone shell (a sheet two cells thick) from radius 0.2 at the top to 0.55 at the bottom.
    cone = radial - (0.2 + 0.35 * (0.75 - y) / 0.5)
    shade = np.minimum(0.02 - np.abs(cone * 0.82), 0.25 - np.abs(y - 0.5)) + noise(2.0, 0.01)
    floaters = np.maximum.reduce([_ball(x, y, z, (0.6, -0.6, 0.3), 0.04), _ball(x, y, z, (-0.5, 0.1, -0.5), 0.03),
                                  _ball(x, y, z, (0.1, -0.5, 0.6), 0.025)])
    return np.maximum.reduce([base, stem, shade, floaters])


SHAPES: dict[str, tuple[Field, int]] = {"ai-sword": (sword, 11), "ai-mug": (mug, 12), "ai-lamp": (lamp, 13)}


def field(shape: Field, seed: int, cells: int) -> np.ndarray:
    """The shape's field on a ``cells``-cubed grid over [-1, 1]^3, with its seeded noise."""
    axis = np.linspace(-1.0, 1.0, cells)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((TRIAL_CELLS,) * 3)  # one noise for every resolution: the same shape

    def noise(scale: float, amplitude: float) -> np.ndarray:
        """Smooth noise of unit spread, ``scale`` trial cells wide, resampled to this grid."""
        smooth = gaussian_filter(white, scale * 2.0, mode="wrap")
        smooth = smooth / max(float(smooth.std()), 1e-12)
        index = np.round(np.linspace(0, TRIAL_CELLS - 1, cells)).astype(int)
        grid = smooth[np.ix_(index, index, index)]
        return amplitude * gaussian_filter(grid, cells / TRIAL_CELLS * 0.5)

    return shape(x, y, z, noise)


def surface(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes at level 0, in [-1, 1] coordinates, outward winding."""
    padded = np.pad(values, 1, constant_values=-1.0)  # closed where a part touches the grid's edge
    vertices, faces, _, _ = measure.marching_cubes(padded, 0.0)
    vertices = (vertices - 1.0) * (2.0 / (values.shape[0] - 1)) - 1.0
    return vertices, faces[:, ::-1]  # skimage winds towards the higher values (the inside here)


def make(name: str, seed: int = 0, faces: int = 40_000) -> trimesh.Trimesh:
    """One of ``SHAPES`` as a generator would hand it over: about ``faces`` triangles."""
    shape, own_seed = SHAPES[name]
    seed = own_seed + 1000 * seed
    trial = len(surface(field(shape, seed, TRIAL_CELLS))[1])
    cells = max(TRIAL_CELLS, round(TRIAL_CELLS * np.sqrt(faces / trial)))
    vertices, triangles = surface(field(shape, seed, cells))
    return trimesh.Trimesh(vertices.astype(np.float32), triangles, process=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder the GLB files go into")
    parser.add_argument("--faces", type=int, default=40_000, help="about how many triangles each")
    parser.add_argument("--seed", type=int, default=0, help="another seed, other meshes of the same kinds")
    parser.add_argument("--only", nargs="*", choices=sorted(SHAPES), default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or SHAPES:
        mesh = make(name, args.seed, args.faces)
        path = args.out / f"{name}.glb"
        mesh.export(str(path), file_type="glb")
        parts = len(trimesh.graph.connected_components(mesh.edges, nodes=np.arange(len(mesh.vertices))))
        print(f"{path}: {len(mesh.faces):,} triangles, {parts} parts, watertight {mesh.is_watertight}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
