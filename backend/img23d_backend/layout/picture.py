"""``layout.png``: a top view of where a run's objects were placed, and the camera that sees them.

Drawn from the run's own record (``manifest.json``: the camera the layout solved, each target's
placement and its mesh's extents), in Blender's world seen from above: X to the right, Y (away
from the camera, the depth) up. The camera stands at the origin, its field of view a wedge; each
object is its footprint (its bounds, scaled and turned as placed) with its name, a tick on the
side that faces the camera, and a ring when it stands on the floor. A grid in metres gives the
scale (one picture's scale is a guess: see ``layout``'s NEAR_DISTANCE). The artist looks at it to
see, at a glance, whether the scene was read as the picture meant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from img23d_protocol import TargetRecord
from PIL import Image, ImageDraw, ImageFont

SIZE = 800            # pixels a side
MARGIN = 56
FILL = (252, 252, 250)
GRID = (226, 226, 222)
WEDGE = (221, 234, 250)
WEDGE_EDGE = (120, 160, 215)
INK = (40, 40, 40)
COLOURS = ((228, 87, 46), (41, 114, 181), (92, 166, 74), (226, 170, 36), (142, 86, 171), (44, 160, 160),
           (200, 70, 120), (120, 120, 120))


@dataclass(frozen=True)
class PlacedObject:
    name: str
    x: float
    y: float
    yaw: float
    width: float          # along its own X once scaled (metres)
    depth: float          # along its own Y once scaled
    on_floor: bool

    def corners(self) -> list[tuple[float, float]]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        half = [(-self.width / 2, -self.depth / 2), (self.width / 2, -self.depth / 2),
                (self.width / 2, self.depth / 2), (-self.width / 2, self.depth / 2)]
        return [(self.x + c * u - s * v, self.y + s * u + c * v) for u, v in half]

    def front(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The middle of the side facing the camera (its -Y), and a point a little beyond it."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        reach = self.depth / 2
        mid = (self.x + s * reach, self.y - c * reach)
        tick = max(self.width, self.depth) * 0.3
        return mid, (mid[0] + s * tick, mid[1] - c * tick)


def placed_objects(records: Iterable[TargetRecord]) -> list[PlacedObject]:
    """The objects a manifest's records place (those with a placement; a record without its
    mesh's extents, from before they were kept, is drawn as a square of its distance's tenth)."""
    found = []
    for record in records:
        placement = record.placement  # layout.Placement's dict, as the job wrote it
        if not isinstance(placement, dict):
            continue
        x, y, _ = placement["location"]
        scale = float(placement["scale"])
        extents = placement.get("extents")
        width, depth = ((extents[0] * scale, extents[1] * scale) if extents
                        else (placement["distance"] / 10, placement["distance"] / 10))
        found.append(PlacedObject(name=record.stem or record.target, x=float(x), y=float(y),
                                  yaw=float(placement["yaw"]), width=max(width, 1e-3), depth=max(depth, 1e-3),
                                  on_floor=bool(placement.get("on_floor"))))
    return found


def horizontal_fov(camera: dict[str, Any]) -> float:
    """The field of view across the picture's width, in radians (``fov_degrees`` is across the longer side)."""
    fov = math.radians(float(camera["fov_degrees"]))
    width, height = float(camera["width"]), float(camera["height"])
    if width >= height:
        return fov
    return 2 * math.atan(math.tan(fov / 2) * width / height)


def draw_layout(camera: dict[str, Any], objects: list[PlacedObject]) -> Image.Image:
    """The top view of ``objects`` and ``camera`` (a manifest's ``scene.camera``)."""
    points = [(0.0, 0.0)] + [p for obj in objects for p in obj.corners()]
    far = max((math.hypot(x, y) for x, y in points), default=1.0) * 1.25 or 1.0
    half_fov = horizontal_fov(camera) / 2
    ray = (far * math.sin(half_fov), far * math.cos(half_fov))
    points += [(-ray[0], ray[1]), (ray[0], ray[1])]
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    span = max(x1 - x0, y1 - y0, 1e-6)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = (SIZE - 2 * MARGIN) / span

    def to_px(point: tuple[float, float]) -> tuple[float, float]:
        return (SIZE / 2 + (point[0] - cx) * scale, SIZE / 2 - (point[1] - cy) * scale)

    image = Image.new("RGB", (SIZE, SIZE), FILL)
    draw = ImageDraw.Draw(image)
    font, small = _font(17), _font(13)
    step = _grid_step(span)
    _grid(draw, to_px, step, (cx - span, cx + span), (cy - span, cy + span))
    draw.polygon([to_px((0.0, 0.0)), to_px((-ray[0], ray[1])), to_px((ray[0], ray[1]))], fill=WEDGE)
    for side in (-1, 1):
        draw.line([to_px((0.0, 0.0)), to_px((side * ray[0], ray[1]))], fill=WEDGE_EDGE, width=2)
    for number, obj in enumerate(objects):
        colour = COLOURS[number % len(COLOURS)]
        corners = [to_px(p) for p in obj.corners()]
        draw.polygon(corners, fill=tuple(int(c + (255 - c) * 0.55) for c in colour), outline=colour, width=3)
        mid, tip = obj.front()
        draw.line([to_px(mid), to_px(tip)], fill=colour, width=3)
        centre = to_px((obj.x, obj.y))
        if obj.on_floor:
            draw.ellipse([centre[0] - 4, centre[1] - 4, centre[0] + 4, centre[1] + 4], outline=colour, width=2)
        right = max(c[0] for c in corners)
        draw.text((right + 6, centre[1]), obj.name, fill=INK, font=font, anchor="lm")
    origin = to_px((0.0, 0.0))
    draw.polygon([(origin[0], origin[1] - 12), (origin[0] - 10, origin[1] + 8), (origin[0] + 10, origin[1] + 8)],
                 fill=INK)
    draw.text((origin[0], origin[1] + 14), "camera", fill=INK, font=small, anchor="mt")
    fov = math.degrees(horizontal_fov(camera))
    draw.text((MARGIN / 2, MARGIN / 3), f"Top view: {len(objects)} object{'s' * (len(objects) != 1)}, "
              f"camera field of view {fov:.0f}° across, grid {_metres(step)}", fill=INK, font=font)
    draw.text((MARGIN / 2, SIZE - MARGIN / 2), "X right, depth up; a tick marks the side facing the camera, "
              "a ring an object on the floor", fill=(110, 110, 110), font=small, anchor="lm")
    return image


def _grid(draw: ImageDraw.ImageDraw, to_px: Any, step: float, xs: tuple[float, float],
          ys: tuple[float, float]) -> None:
    start = math.floor(xs[0] / step)
    for i in range(start, math.ceil(xs[1] / step) + 1):
        draw.line([to_px((i * step, ys[0])), to_px((i * step, ys[1]))], fill=GRID, width=1)
    start = math.floor(ys[0] / step)
    for i in range(start, math.ceil(ys[1] / step) + 1):
        draw.line([to_px((xs[0], i * step)), to_px((xs[1], i * step))], fill=GRID, width=1)


def _grid_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about eight lines across ``span``."""
    raw = span / 8
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _metres(step: float) -> str:
    return f"{step:g} m"


def _font(size: int) -> Any:
    # Pillow's own scalable font (no system fonts needed on a headless server).
    return ImageFont.load_default(size=size)
