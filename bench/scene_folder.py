"""A scene folder (docs/placement.md, "Scoring a layout against the truth"), read and checked: the picture, its
planar depth, its masks, its camera and each object's true place and mesh.

A scene folder may come from anyone, so each file is checked as it is read, and what is wrong is one sentence
naming the scene and the file (``SceneError``); the benchmark then scores the other scenes.

Frames: the world is Blender's (Z up, the floor at Z = 0); the camera frame is the layout's (x right, y down,
z forward: planar depth); an object's mesh is glTF's (Y up, its front +Z, its origin at its bottom centre).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

FILES = ("picture.png", "depth.npy", "masks.png", "scene.json")
MAX_JSON_BYTES = 1 << 20
# glTF's axes to Blender's: (x, y, z) -> (x, -z, y), as Blender's glTF importer turns them.
GLTF_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
# Blender's camera looks down its own -Z with +Y up; the camera frame is x right, y down, z forward.
CAMERA_FLIP = np.diag([1.0, -1.0, -1.0])


class SceneError(ValueError):
    """One sentence naming the scene and the file that is wrong."""


@dataclass(frozen=True)
class TruthCamera:
    fov_degrees: float
    fov_across: str                  # "width" or "height"
    resolution: tuple[int, int]      # width, height
    location: np.ndarray             # (3,) world
    pitch_degrees: float
    yaw_degrees: float

    @property
    def focal_px(self) -> float:
        across = self.resolution[0] if self.fov_across == "width" else self.resolution[1]
        return across / 2 / math.tan(math.radians(self.fov_degrees) / 2)

    @property
    def fov_longer_degrees(self) -> float:
        """The field of view across the picture's longer side, as the layout's setting reads it."""
        return math.degrees(2 * math.atan(max(self.resolution) / 2 / self.focal_px))

    @property
    def turn(self) -> np.ndarray:
        """The camera's rotation (Blender's camera axes to the world)."""
        tilt, yaw = math.pi / 2 - math.radians(self.pitch_degrees), math.radians(self.yaw_degrees)
        rx = np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]])
        rz = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
        return rz @ rx

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.location) @ self.turn @ CAMERA_FLIP

    def to_world(self, points: np.ndarray) -> np.ndarray:
        return points @ CAMERA_FLIP @ self.turn.T + self.location


@dataclass
class TruthObject:
    name: str
    index: int
    matrix_world: np.ndarray         # 4 x 4
    vertices: np.ndarray             # glTF's frame, the file's
    faces: np.ndarray
    support: str

    @property
    def local_blender(self) -> np.ndarray:
        return self.vertices @ GLTF_TO_BLENDER.T

    @property
    def world(self) -> np.ndarray:
        return self.local_blender @ self.matrix_world[:3, :3].T + self.matrix_world[:3, 3]

    @property
    def yaw(self) -> float:
        """Its turn about Z in the world (radians)."""
        return math.atan2(self.matrix_world[1, 0], self.matrix_world[0, 0])


@dataclass
class SceneFolder:
    name: str
    root: Path
    camera: TruthCamera
    depth: np.ndarray                # planar depth in metres, inf where nothing is hit
    masks: np.ndarray                # object index per pixel
    objects: list[TruthObject]

    def mask(self, item: TruthObject) -> np.ndarray:
        return self.masks == item.index


def read_scene(root: Path) -> SceneFolder:
    """The scene folder at ``root``, checked; ``SceneError`` in one sentence for the first thing wrong."""
    name = root.name
    for file in FILES:
        if not (root / file).is_file():
            raise SceneError(f"{name}: {file} is missing")
    if (root / "scene.json").stat().st_size > MAX_JSON_BYTES:
        raise SceneError(f"{name}: scene.json is over {MAX_JSON_BYTES >> 20} MB, more than any scene's record")
    try:
        record = json.loads((root / "scene.json").read_text(encoding="utf-8"))
        camera = _camera(record["camera"])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise SceneError(f"{name}: scene.json is not a scene record ({type(exc).__name__}: {exc})") from exc
    width, height = camera.resolution
    try:
        depth = np.load(root / "depth.npy", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SceneError(f"{name}: depth.npy cannot be read as an array ({exc})") from exc
    if depth.shape != (height, width):
        raise SceneError(f"{name}: depth.npy is {depth.shape[::-1]} pixels, the camera's resolution {width} x {height}")
    if np.isnan(depth).any():
        raise SceneError(f"{name}: depth.npy holds {int(np.isnan(depth).sum()):,} NaN values (use inf where nothing "
                         "is hit)")
    try:
        masks = np.asarray(Image.open(root / "masks.png"))
    except (OSError, ValueError) as exc:
        raise SceneError(f"{name}: masks.png cannot be read as a picture ({exc})") from exc
    if masks.shape != (height, width):
        raise SceneError(f"{name}: masks.png is {masks.shape[:2][::-1]} pixels, the camera's resolution "
                         f"{width} x {height}")
    objects = [_object(root, name, entry) for entry in record.get("objects", [])]
    named = {item.index for item in objects}
    stray = sorted(set(np.unique(masks).tolist()) - named - {0})
    if stray:
        raise SceneError(f"{name}: masks.png holds index {stray[0]}, which no object in scene.json names")
    if not objects:
        raise SceneError(f"{name}: scene.json names no object")
    return SceneFolder(name, root, camera, depth.astype(np.float64), masks.astype(np.int64), objects)


def _camera(data: dict) -> TruthCamera:
    across = str(data.get("fov_across", "width"))
    if across not in ("width", "height"):
        raise ValueError(f"fov_across is {across!r}, not width or height")
    fov = float(data["fov_degrees"])
    if not 1.0 < fov < 179.0:
        raise ValueError(f"fov_degrees {fov} is not between 1 and 179")
    width, height = (int(v) for v in data["resolution"])
    location = np.asarray(data.get("location", [0.0, 0.0, data["height"]]), dtype=np.float64).reshape(3)
    return TruthCamera(fov, across, (width, height), location, float(data["pitch_degrees"]),
                       float(data.get("yaw_degrees", 0.0)))


def _object(root: Path, scene: str, entry: dict) -> TruthObject:
    try:
        name, index, mesh = str(entry["name"]), int(entry["index"]), str(entry["mesh"])
        matrix = np.asarray(entry["matrix_world"], dtype=np.float64).reshape(4, 4)
    except (KeyError, TypeError, ValueError) as exc:
        raise SceneError(f"{scene}: scene.json has an object entry that is not one ({exc})") from exc
    path = (root / mesh).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise SceneError(f"{scene}: {mesh} (the mesh of {name}) is missing or outside the scene's folder")
    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many kinds for a file that is no mesh: each is this one sentence
        raise SceneError(f"{scene}: {mesh} is not a mesh ({type(exc).__name__}: {exc})") from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise SceneError(f"{scene}: {mesh} is not a mesh (no triangles in it)")
    return TruthObject(name, index, matrix, np.asarray(loaded.vertices, dtype=np.float64),
                       np.asarray(loaded.faces, dtype=np.int64), str(entry.get("support", "floor")))
