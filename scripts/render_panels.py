"""Cycles renders of the guide's before/after pictures, side by side: one scene, one camera, one sheet.

Shared by ``scripts/game_ready_pictures.py`` and ``scripts/material_pictures.py`` (each in a process of
its own, with the bpy module). ``scene()`` empties Blender's file and sets up Cycles on the CPU with a
sun and a grey sky; ``render()`` puts a camera looking at a point from a fixed direction and renders;
``framing()`` finds where that camera looks and from how far for a glTF mesh's vertices;
``side_by_side()`` pastes the renders in a row with a caption under each, as a palette PNG, which
``save()`` writes into the guide's pictures folder; ``picture_main()`` is either script's command line.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GUIDE_PICTURES = Path(__file__).resolve().parent.parent / "docs" / "images"
PANEL = 420       # pixels on a side of each render
COLOURS = 96      # a palette keeps a sheet small
FIELD_OF_VIEW = 35.0  # degrees: render()'s camera, which framing() fits the mesh into


def scene() -> Any:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 32
    scene.cycles.max_bounces = 2
    scene.render.resolution_x = scene.render.resolution_y = PANEL
    scene.render.film_transparent = True
    scene.view_settings.view_transform = "Standard"
    world = bpy.data.worlds.new("sky")
    world.color = (0.35, 0.35, 0.38)
    scene.world = world
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy, sun.data.angle = 3.0, math.radians(3.0)
    sun.rotation_euler = (math.radians(45.0), 0.0, math.radians(-30.0))
    scene.collection.objects.link(sun)
    return scene


def framing(vertices: np.ndarray) -> tuple[tuple[float, float, float], float, float]:
    """For a mesh's glTF (Y up) vertices: the point ``render()``'s camera looks at (in Blender's Z-up axes,
    as the importer places the mesh), its distance there so the bounding sphere fills the view with a
    2 % margin, and the bounding box's diagonal."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2.0
    diagonal = float(np.linalg.norm(high - low))
    distance = diagonal / 2.0 / math.sin(math.radians(FIELD_OF_VIEW / 2.0)) * 1.02
    return (float(centre[0]), float(-centre[2]), float(centre[1])), distance, diagonal


def render(scene: Any, camera_target: tuple[float, float, float], distance: float, path: Path) -> None:
    import bpy
    from mathutils import Vector

    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.angle = math.radians(FIELD_OF_VIEW)
    scene.collection.objects.link(camera)
    azimuth, elevation = math.radians(-55.0), math.radians(22.0)
    camera.location = Vector(camera_target) + distance * Vector((math.cos(azimuth) * math.cos(elevation),
                                                                 math.sin(azimuth) * math.cos(elevation),
                                                                 math.sin(elevation)))
    camera.rotation_euler = (Vector(camera_target) - camera.location).to_track_quat("-Z", "Y").to_euler()
    scene.camera = camera
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)


def side_by_side(paths: list[Path], captions: tuple[str, ...], colours: int = COLOURS) -> Image.Image:
    sheet = Image.new("RGB", (PANEL * len(paths), PANEL + 34), (252, 252, 250))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    for number, (path, caption) in enumerate(zip(paths, captions)):
        with Image.open(path) as image:
            sheet.paste(image.convert("RGBA"), (number * PANEL, 0), image.convert("RGBA"))
        draw.text((number * PANEL + PANEL / 2, PANEL + 16), caption, fill=(40, 40, 40), font=font, anchor="mm")
    return sheet.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)


def save(picture: Image.Image, out: Path, name: str) -> Path:
    """Write ``picture`` as ``out/name`` (an optimised PNG) and say its size."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    picture.save(path, format="PNG", optimize=True)
    print(f"{path}: {picture.size[0]}x{picture.size[1]}, {path.stat().st_size // 1024} KB")
    return path


def picture_main(doc: str, make: Callable[[Path], Path], argv: list[str] | None = None) -> int:
    """A picture script's command line (``--out``, the guide's pictures by default): ``make`` the sheet there."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GUIDE_PICTURES)
    make(parser.parse_args(argv).out)
    return 0
