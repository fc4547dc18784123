"""Where each object stands: a pinhole camera, distances from depth, one floor under what stands on it.

Standard library only, shared by both sides: the backend writes the placements it computes into the
run's manifest, and the Blender add-on uses this very module to lay a run out again, for another field
of view or ground setting, from what the run folder keeps: boxes, depth statistics, the picture's size.

Frames. The camera frame has x right, y down (the picture's rows), z forward (planar depth, as a
render's Z pass measures it). The world is Blender's: Z up, the floor at Z = 0, the camera at
(0, 0, elevation) looking along +Y, pitched down by ``pitch`` radians. Meshes from glTF arrive in
Blender facing -Y; an object faces the camera as it did in the picture when its -Y axis points
back along the horizontal line of sight (``yaw`` about Z).

Depth. Relative models such as Depth Anything V2 give disparity ``d``: inverse depth known up to
a scale and a shift, ``d = a / z + b``. The shift is taken as 0, so ``z = a / d``: the distances'
ratios are kept and one scale is left, which no single picture can tell, fixed by putting the
nearest object ``near_distance`` from the camera; a disparity near 0 (sky-like) is clamped to
``MAX_DISTANCE_RATIO`` times the nearest. A metric model (MoGe-2) measures ``d = 1 / z`` in
1 / metres: with ``metric`` set, every distance is kept as measured (``z = 1 / d``), no scale guessed.

Floor. Each object's "contact" is the bottom centre of its box, at its distance. Objects whose
contacts lie on one plane (within a quarter of their own height), with nothing below that plane,
stand on it: the plane gives the camera's pitch and height, and each of those objects slides
along its line of sight onto the floor, so it keeps its place in the picture. The others (a
chimney on a roof, a lamp on a table) keep the height their depth gives. A floor measured in a
metric point map (``LayoutSettings.floor``) stands in for that fit. ``layout_floor`` holds both
(standard library only too).

Fit. With a metric map the backend fits each mesh to its own points once it is made (its ``layout.surface_fit``):
how far along its horizontal line of sight its front moves from its median's distance, and how far off its box's
centre its projection is centred. Both are kept in its record (``SHIFT_KEY``, ``ACROSS_KEY``) and applied here, so
every later layout stands it where the backend did.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Protocol

from .layout_floor import Heights, finite_number, fit_floor, measured, standing_on

Box = tuple[float, float, float, float]   # x0, y0, x1, y1 in pixels of the picture
Vec3 = tuple[float, float, float]

DEFAULT_FOV_DEGREES = 55.0    # across the picture's longer side; phone cameras span 60-70
NEAR_DISTANCE = 4.0           # metres from the camera to the nearest object
MAX_DISTANCE_RATIO = 25.0
_SCALE_STEPS = 50
SHIFT_KEY = "sight_shift_m"   # a record's depth entry: its mesh's fit to its own points (``LayoutTarget.shift``)
ACROSS_KEY = "across_px"      # the same fit's centring off its box's centre, in pixels (``LayoutTarget.across``)


@dataclass(frozen=True)
class LayoutTarget:
    """One object as the run folder keeps it: its key (the record's stem), box and depth statistic."""

    key: str
    box: Box
    disparity: float | None = None   # median of the depth model's output inside its matte
    heights: Heights | None = None   # its own points against a measured floor (a metric map's)
    shift: float = 0.0               # metres along its line of sight that its mesh's fit to its points moved it
    across: float = 0.0              # pixels right of its box's centre that the fit centres its projection on


@dataclass(frozen=True)
class LayoutSettings:
    fov_degrees: float = DEFAULT_FOV_DEGREES
    ground: bool = True
    near_distance: float = NEAR_DISTANCE   # relative depth only: where the nearest object stands
    metric: bool = False                   # the statistics are metric disparities (1 / z, 1 / m): distances kept
    floor: tuple[float, float] | None = None  # (pitch, elevation) measured in a metric point map: the boxes' own fit

    @property
    def scale(self) -> str:
        """How the distances were set, in words (the manifest says it beside the settings)."""
        if self.metric:
            return "metric: each distance as the depth model measured it"
        return f"relative: the nearest object put {self.near_distance:g} m from the camera, the rest by their ratios"


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with the picture's size and aspect, principal point at its centre."""

    width: int
    height: int
    fov_degrees: float        # across the longer side
    pitch: float = 0.0        # radians, positive looks down
    elevation: float = 0.0    # height above the floor (Z = 0)

    @property
    def focal(self) -> float:
        """Focal length in pixels of the picture."""
        return max(self.width, self.height) / 2 / math.tan(math.radians(self.fov_degrees) / 2)

    @property
    def location(self) -> Vec3:
        return (0.0, 0.0, self.elevation)

    @property
    def rotation_euler(self) -> Vec3:
        """XYZ Euler angles of a Blender camera (which looks down its own -Z) seeing this view."""
        return (math.pi / 2 - self.pitch, 0.0, 0.0)

    @property
    def sensor_fit(self) -> str:
        """Blender's sensor fit that applies ``fov_degrees`` to the longer side."""
        return "HORIZONTAL" if self.width >= self.height else "VERTICAL"

    def ray(self, u: float, v: float) -> Vec3:
        """The camera-frame point at planar depth 1 that pixel position (u, v) sees."""
        return ((u - self.width / 2) / self.focal, (v - self.height / 2) / self.focal, 1.0)

    def to_world(self, p: Vec3) -> Vec3:
        s, c = math.sin(self.pitch), math.cos(self.pitch)
        return (p[0], -s * p[1] + c * p[2], -c * p[1] - s * p[2] + self.elevation)

    def to_camera(self, p: Vec3) -> Vec3:
        s, c = math.sin(self.pitch), math.cos(self.pitch)
        y, z = p[1], p[2] - self.elevation
        return (p[0], -s * y - c * z, c * y - s * z)

    def project(self, p: Vec3) -> tuple[float, float] | None:
        """Pixel position of world point ``p``; None when it is not in front of the camera."""
        x, y, z = self.to_camera(p)
        if z <= 1e-9:
            return None
        return (self.width / 2 + self.focal * x / z, self.height / 2 + self.focal * y / z)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "focal_px": self.focal, "location": list(self.location),
                "rotation_euler": list(self.rotation_euler), "sensor_fit": self.sensor_fit}


@dataclass(frozen=True)
class Anchor:
    """Where one object's box bottom meets the world, before its mesh's size is known."""

    key: str
    box: Box
    distance: float     # planar depth of its visible surface
    contact: Vec3       # world point under the middle of its front
    on_floor: bool
    height: float | None = None   # metres from where it stands to its top, measured: its size (else its box's)
    shift: float = 0.0            # metres its front moves along the horizontal line of sight (its mesh's fit)
    across: float = 0.0           # pixels right of its box's centre where its projection is centred (its mesh's fit)


@dataclass(frozen=True)
class Placement:
    """A mesh's transform: the bottom centre of its bounds goes to ``location``, turned by
    ``yaw`` about Z and scaled by ``scale`` (uniformly)."""

    key: str
    location: Vec3
    yaw: float
    scale: float
    distance: float
    on_floor: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "location": list(self.location)}


@dataclass(frozen=True)
class SceneLayout:
    camera: Camera
    anchors: dict[str, Anchor]
    settings: LayoutSettings

    def place(self, key: str, extents: Vec3) -> Placement:
        """The placement of ``key``'s mesh, whose bounds measure ``extents`` (x, y, z) unscaled."""
        return place(self, key, extents)


def resolve_fov(settings_fov: float, estimate: float | None, use_estimate: bool) -> float:
    """The field of view to lay out with: the depth model's estimate when it gives one and it
    is wanted, else the artist's setting."""
    if use_estimate and estimate is not None and 1.0 < estimate < 179.0:
        return float(estimate)
    return float(settings_fov)


def solve(image_size: tuple[int, int], targets: Iterable[LayoutTarget], settings: LayoutSettings) -> SceneLayout:
    """The camera and each target's anchor, from the boxes and depth statistics of one picture."""
    width, height = int(image_size[0]), int(image_size[1])
    if width <= 0 or height <= 0:
        raise ValueError(f"the picture's size must be positive, got {image_size!r}")
    if not 1.0 <= settings.fov_degrees <= 179.0:
        raise ValueError(f"the field of view must be between 1 and 179 degrees, got {settings.fov_degrees}")
    targets = list(targets)
    level = Camera(width, height, settings.fov_degrees)
    distances = _distances(targets, settings.near_distance, settings.metric)
    contacts: dict[str, Vec3] = {}
    heights: dict[str, float] = {}
    for target in targets:
        x0, y0, x1, y1 = target.box
        z = distances[target.key]
        ray = level.ray((x0 + x1) / 2, y1)
        contacts[target.key] = (ray[0] * z, ray[1] * z, z)
        heights[target.key] = max(y1 - y0, 1.0) / level.focal * z
    found = measured(settings.floor) if settings.ground else None
    if found is not None:  # measured in the picture's points: the camera it gives, and who stands on it
        floor: tuple[float, float, set[str]] | None = (*found, standing_on(contacts, heights, *found))
    else:
        floor = fit_floor(contacts, heights) if settings.ground else None
    if floor is None:
        # No floor: a level camera, the world's ground at the lowest bottom, never above the camera (a lamp
        # seen from below, whose bottom is above the horizon, put the camera under the floor).
        pitch, elevation, on_floor = 0.0, max([0.0, *(c[1] for c in contacts.values())]), set()
    else:
        pitch, elevation, on_floor = floor
    camera = Camera(width, height, settings.fov_degrees, pitch, elevation)
    anchors = {}
    for target in targets:
        contact, distance = contacts[target.key], distances[target.key]
        stands = target.heights if found is not None else None
        if stands is not None:
            # Its own points against the measured floor: at its measured distance, standing where they say (a
            # hidden bottom on the floor, a seen raised one where it is), and as tall as they say when its top is
            # seen: a half-hidden object keeps its size and its feet. No slide along the box's bottom row, which
            # for a hidden bottom is the top of what hides it.
            world = camera.to_world(contact)
            anchors[target.key] = Anchor(target.key, tuple(target.box), distance, (world[0], world[1], stands.base),
                                         stands.base == 0.0, stands.height, target.shift, target.across)
            continue
        # Slide along the line of sight onto the floor: the object keeps its place in the picture, and its
        # distance is where that line meets the floor. A line of sight at or above the horizon never meets
        # it: that object keeps the height its depth gives (dropped to Z = 0, it left its box).
        on = _floor_depth(camera, contact) if target.key in on_floor else None
        standing = on is not None
        if on is not None:
            distance = on
            contact = tuple(v * distance / contact[2] for v in contact)  # type: ignore[assignment]
        world = camera.to_world(contact)
        if standing:
            world = (world[0], world[1], 0.0)
        anchors[target.key] = Anchor(target.key, tuple(target.box), distance, world, standing, None, target.shift,
                                     target.across)
    return SceneLayout(camera, anchors, settings)


def _floor_depth(camera: Camera, point: Vec3) -> float | None:
    """Planar depth at which the line of sight through camera-frame ``point`` meets the floor;
    None when it does not (at or above the horizon)."""
    along = math.cos(camera.pitch) * point[1] / point[2] + math.sin(camera.pitch)
    return camera.elevation / along if along > 1e-6 and camera.elevation > 0 else None


def place(scene: SceneLayout, key: str, extents: Vec3) -> Placement:
    """Turn the object to face the camera and scale it so its projection fits its box.

    The front of its bounds stands at the anchor; the bounds reach back from there, so the
    fitting is repeated until the projected bounds (all eight corners, seen through the camera)
    fit the box: exactly in one direction, inside it in the other, like a contained image, and
    centred across it (a side face in view widens a box on one side only). An object whose height
    was measured (``Anchor.height``) has its size from it: only the centring is done. A front moved by its
    mesh's fit to its own points (``Anchor.shift``) starts that far along its horizontal line of sight, and is
    centred ``Anchor.across`` pixels off its box's centre (where another target hides one side of it, the box's
    centre is not its own).
    """
    anchor = scene.anchors[key]
    camera = scene.camera
    size = tuple(max(float(e), 1e-9) for e in extents)
    x0, y0, x1, y1 = anchor.box
    box_w, box_h = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    away, _ = _facing(anchor.contact)
    front = (anchor.contact[0] + away[0] * anchor.shift, anchor.contact[1] + away[1] * anchor.shift, anchor.contact[2])
    fixed = anchor.height is not None
    scale = anchor.height / size[2] if fixed else min(box_w / size[0], box_h / size[2]) * anchor.distance / camera.focal
    for _ in range(_SCALE_STEPS):
        away, yaw = _facing(front)
        bounds = _projected_bounds(camera, front, away, yaw, scale, size)  # type: ignore[arg-type]
        if bounds is None:
            break
        u0, v0, u1, v1 = bounds
        ratio = 1.0 if fixed else min(box_w / max(u1 - u0, 1e-9), box_h / max(v1 - v0, 1e-9))
        scale *= ratio
        # Slide along the picture's rows (the world's X: the camera has no roll) until the projection is
        # centred on the box. That keeps the front's planar depth and its row, so a pixel is depth / focal
        # across wherever it is; a step across the line of sight, sized so, overshot by 1 / cos of the angle
        # off axis (it ran away beyond about 100 degrees) and lifted the front off its box's bottom row.
        slide = ((x0 + x1) / 2 + anchor.across - (u0 + u1) / 2) * camera.to_camera(front)[2] / camera.focal
        front = (front[0] + slide, front[1], front[2])
        if abs(ratio - 1.0) < 1e-7 and abs(slide) < 1e-9 * anchor.distance:
            break
    away, yaw = _facing(front)
    half = scale * size[1] / 2
    location = (front[0] + away[0] * half, front[1] + away[1] * half, front[2])
    return Placement(key, location, yaw, scale, anchor.distance, anchor.on_floor)


def _facing(point: Vec3) -> tuple[tuple[float, float], float]:
    """The horizontal direction from the camera to ``point``, and the yaw that turns -Y back along it."""
    reach = math.hypot(point[0], point[1])
    away = (point[0] / reach, point[1] / reach) if reach > 1e-9 else (0.0, 1.0)
    return away, math.atan2(-away[0], away[1])


class Placeable(Protocol):
    """What the layout reads of a target's record (``run_record.TargetRecord``; this module imports
    nothing of the package, so the record is described here, not imported)."""

    stem: str
    box: list[float] | None
    depth: dict[str, Any] | None


def targets_from_records(records: Iterable[Placeable]) -> list[LayoutTarget]:
    """Layout targets from a manifest's records (``run_record.TargetRecord``), keyed by their stems.

    The records the backend measured (those with a ``depth`` entry, with or without a statistic)
    were solved together, so those are the targets; a manifest from before depth (none has the
    entry) gives every record with a box, laid out by its box alone.
    """
    records = [r for r in records if r.box is not None and len(r.box) == 4 and r.stem]
    measured = [r for r in records if r.depth is not None]
    targets = []
    for record in measured or records:
        disparity = (record.depth or {}).get("disparity")
        shift, across = ((record.depth or {}).get(key) for key in (SHIFT_KEY, ACROSS_KEY))
        targets.append(LayoutTarget(record.stem, tuple(float(v) for v in record.box),  # type: ignore[arg-type, union-attr]
                                    float(disparity) if _usable(disparity) else None, Heights.of(record.depth),
                                    float(shift) if _a_shift(shift) else 0.0,  # type: ignore[arg-type]
                                    float(across) if _a_shift(across) else 0.0))  # type: ignore[arg-type]
    return targets


# --- the parts ----------------------------------------------------------------------------------

def _distances(targets: list[LayoutTarget], near: float, metric: bool = False) -> dict[str, float]:
    nearest = max((t.disparity for t in targets if _usable(t.disparity)), default=None)  # type: ignore[type-var]
    if nearest is None:
        return {t.key: near for t in targets}
    if metric:  # the nearest's own distance (1 cm to 100 km: a hand-edited 1e308 is no 1e-308 m), so the shares
        near = min(max(1.0 / nearest, 0.01), 1e5)  # type: ignore[operator]  # below give each as measured
    # Each disparity as a share of the nearest's, in (0, 1] whatever the model's scale: a record's 1e308 makes
    # no inf (near * 1e308) and no NaN after it.
    share = {t.key: t.disparity / nearest for t in targets if _usable(t.disparity)}  # type: ignore[operator]
    # A target without a statistic (its depth could not be measured) stands at the others' median.
    middle = statistics.median(share.values())
    return {t.key: near / max(share.get(t.key, middle), 1 / MAX_DISTANCE_RATIO) for t in targets}


def _a_shift(value: object) -> bool:
    # A recorded fit's shift: a finite number of metres or pixels, under 1,000 (a manifest may hold anything there).
    return finite_number(value) and abs(value) < 1e3


def _usable(value: object) -> bool:
    # A manifest edited by hand may hold anything there ("0.9", a list): not a measured disparity, so the target
    # stands as one without (it was a TypeError traceback on import and on Re-layout).
    return finite_number(value) and value > 0


def _projected_bounds(camera: Camera, front: Vec3, away: tuple[float, float], yaw: float, scale: float,
                      extents: Vec3) -> tuple[float, float, float, float] | None:
    """Pixel bounds (u0, v0, u1, v1) of the bounds' eight corners, seen through ``camera``."""
    width, depth, height = (scale * e for e in extents)
    cos_y, sin_y = math.cos(yaw), math.sin(yaw)
    centre = (front[0] + away[0] * depth / 2, front[1] + away[1] * depth / 2)
    us, vs = [], []
    for dx in (-width / 2, width / 2):
        for dy in (-depth / 2, depth / 2):
            for dz in (0.0, height):
                corner = (centre[0] + cos_y * dx - sin_y * dy, centre[1] + sin_y * dx + cos_y * dy, front[2] + dz)
                pixel = camera.project(corner)
                if pixel is None:
                    return None
                us.append(pixel[0])
                vs.append(pixel[1])
    return min(us), min(vs), max(us), max(vs)
