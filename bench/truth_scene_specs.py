"""The scene benchmark's own scenes (issue 98): objects made of primitives, where they stand, and the camera.

Data only: ``bench/truth_scenes.py`` builds each in Blender (the bpy module) and writes its folder in the scene
format (docs/placement.md, "Scoring a layout against the truth"). Every object is a union of boxes, cylinders,
cones and spheres in its own frame (Blender's: Z up, its front facing -Y, its origin at its bottom centre), so the
scenes are the project's own (CC0, as the example picture) and need nothing downloaded.

What the set covers, as the issue asks: occlusion (a chair half behind a barrel, a lamp whose base is hidden),
objects turned up to 60 degrees, objects standing on others (a box and a lamp on a table, a chimney on a roof,
crates stacked), round and thin objects (a ball, a barrel, a standard lamp, a pole), fields of view from 30 to 75
degrees across either side, distances from 1.5 to 15 m, indoor and outdoor scales.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Part:
    """One primitive of an object: ``kind`` box (``size`` = x, y, z extents), pyramid (x, y extents of its base,
    height), cylinder or cone (``size`` = radius, radius at the top, height), sphere (``size`` = radius, -, -);
    ``at`` is its bottom centre in the object's frame (a sphere's too: it rests on ``at``)."""

    kind: str
    size: Vec3
    at: Vec3 = (0.0, 0.0, 0.0)
    colour: tuple[float, float, float] = (0.6, 0.6, 0.6)


@dataclass(frozen=True)
class TruthObject:
    name: str
    parts: tuple[Part, ...]
    location: Vec3                 # its bottom centre in the world (metres, Z up, the floor at Z = 0)
    yaw_degrees: float = 0.0       # turned about Z (0: its front faces -Y, towards a camera looking along +Y)
    support: str = "floor"         # "floor" or the name of the object it stands on


@dataclass(frozen=True)
class TruthCamera:
    fov_degrees: float
    fov_across: str                # "width" or "height": the side the field of view spans
    height: float                  # metres above the floor
    pitch_degrees: float           # looking down
    resolution: tuple[int, int]    # width, height in pixels
    yaw_degrees: float = 0.0       # about Z (0: looking along +Y); never a roll


@dataclass(frozen=True)
class TruthScene:
    name: str
    camera: TruthCamera
    objects: tuple[TruthObject, ...]
    floor_colour: tuple[float, float, float] = (0.45, 0.42, 0.38)
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)


WOOD, METAL, RED, BLUE, GREEN, CREAM = (0.55, 0.35, 0.2), (0.5, 0.52, 0.55), (0.7, 0.15, 0.12), \
    (0.15, 0.3, 0.7), (0.2, 0.55, 0.25), (0.9, 0.85, 0.7)


def cabinet(w: float = 0.8, d: float = 0.45, h: float = 1.8) -> tuple[Part, ...]:
    return (Part("box", (w, d, h), colour=WOOD), Part("box", (w * 0.9, 0.02, h * 0.4), (0, -d / 2 - 0.01, h * 0.5),
                                                       colour=CREAM))


def barrel(r: float = 0.3, h: float = 0.9) -> tuple[Part, ...]:
    return (Part("cylinder", (r, r, h), colour=WOOD), Part("cylinder", (r * 1.03, r * 1.03, 0.05), (0, 0, h * 0.2),
                                                            colour=METAL),
            Part("cylinder", (r * 1.03, r * 1.03, 0.05), (0, 0, h * 0.75), colour=METAL))


def table(w: float = 1.2, d: float = 0.8, h: float = 0.75, leg: float = 0.06) -> tuple[Part, ...]:
    top = Part("box", (w, d, 0.05), (0, 0, h - 0.05), colour=WOOD)
    legs = tuple(Part("box", (leg, leg, h - 0.05), (sx * (w / 2 - leg), sy * (d / 2 - leg), 0), colour=WOOD)
                 for sx in (-1, 1) for sy in (-1, 1))
    return (top, *legs)


def chair(s: float = 0.45, h: float = 0.9) -> tuple[Part, ...]:
    seat = Part("box", (s, s, 0.05), (0, 0, 0.42), colour=RED)
    back = Part("box", (s, 0.05, h - 0.47), (0, s / 2 - 0.025, 0.47), colour=RED)
    legs = tuple(Part("box", (0.04, 0.04, 0.42), (sx * (s / 2 - 0.03), sy * (s / 2 - 0.03), 0), colour=METAL)
                 for sx in (-1, 1) for sy in (-1, 1))
    return (seat, back, *legs)


def lamp(h: float = 1.6, shade: float = 0.22) -> tuple[Part, ...]:
    return (Part("cylinder", (0.16, 0.16, 0.04), colour=METAL), Part("cylinder", (0.015, 0.015, h - 0.3), (0, 0, 0.04),
                                                                      colour=METAL),
            Part("cone", (shade, shade * 0.55, 0.3), (0, 0, h - 0.3), colour=CREAM))


def crate(s: float = 0.5) -> tuple[Part, ...]:
    return (Part("box", (s, s, s), colour=WOOD),)


ROOF = 1.6


def house(w: float = 6.0, d: float = 5.0, h: float = 3.0) -> tuple[Part, ...]:
    return (Part("box", (w, d, h), colour=CREAM), Part("pyramid", (w, d, ROOF), (0, 0, h), colour=RED),
            Part("box", (1.0, 0.1, 2.0), (0, -d / 2 - 0.05, 0), colour=WOOD))


SCENES: tuple[TruthScene, ...] = (
    TruthScene("living_room", TruthCamera(50.0, "width", 1.5, 15.0, (512, 384)), (
        TruthObject("cabinet", cabinet(), (-1.4, 5.2, 0.0), 10.0),
        TruthObject("barrel", barrel(), (0.35, 3.0, 0.0)),
        TruthObject("chair", chair(), (0.75, 3.8, 0.0), -20.0),     # half behind the barrel
        TruthObject("ball", (Part("sphere", (0.2, 0, 0), colour=BLUE),), (1.05, 2.9, 0.0)),
    ), notes="occlusion: the chair about half behind the barrel; round objects"),
    TruthScene("table_top", TruthCamera(40.0, "width", 1.6, 18.0, (512, 384)), (
        TruthObject("table", table(), (0.0, 3.1, 0.0), 8.0),
        TruthObject("box", crate(0.28), (-0.25, 3.0, 0.75), 25.0, support="table"),
        TruthObject("lamp", lamp(0.55, 0.12), (0.35, 3.25, 0.75), 0.0, support="table"),
        TruthObject("barrel", barrel(0.25, 0.7), (-0.85, 3.0, 0.0)),
    ), notes="objects standing on a table; 1.5 to 3.5 m"),
    TruthScene("turned", TruthCamera(60.0, "width", 1.6, 12.0, (512, 384)), (
        TruthObject("crate_a", crate(0.7), (-1.6, 4.5, 0.0), 0.0),
        TruthObject("crate_b", crate(0.7), (0.0, 5.0, 0.0), 30.0),
        TruthObject("crate_c", crate(0.7), (1.6, 4.5, 0.0), 60.0),
        TruthObject("table", table(1.6, 0.7), (0.2, 3.2, 0.0), 45.0),
    ), notes="objects turned 0, 30, 45 and 60 degrees"),
    TruthScene("round_thin", TruthCamera(75.0, "width", 1.2, 10.0, (512, 384)), (
        TruthObject("ball", (Part("sphere", (0.35, 0, 0), colour=BLUE),), (-0.7, 2.4, 0.0)),
        TruthObject("lamp", lamp(), (0.6, 3.0, 0.0), 15.0),
        TruthObject("pole", (Part("cylinder", (0.04, 0.04, 2.2), colour=METAL),), (1.4, 4.0, 0.0)),
        TruthObject("barrel", barrel(0.3, 0.9), (-0.2, 1.6, 0.0)),
    ), notes="a wide field of view; round and thin objects; 1.5 to 4 m"),
    TruthScene("street", TruthCamera(35.0, "height", 1.7, 4.0, (512, 384)), (
        TruthObject("house", house(), (-1.5, 15.0, 0.0)),
        # On the roof's slope: its bottom at the roof's height under its footprint's highest edge.
        TruthObject("chimney", (Part("box", (0.5, 0.5, 1.2), colour=RED),),
                    (-3.0, 15.0, 3.0 + ROOF * (1 - 1.25 / 3.0)), support="house"),
        TruthObject("tree", (Part("cylinder", (0.18, 0.18, 2.0), colour=WOOD),
                             Part("sphere", (1.1, 0, 0), (0, 0, 1.8), GREEN)), (3.2, 12.0, 0.0)),
        TruthObject("barrel", barrel(0.35, 1.0), (1.0, 6.0, 0.0), 0.0),
    ), notes="outdoors, 6 to 15 m; a chimney on a roof; the field of view across the height"),
    TruthScene("stack", TruthCamera(30.0, "width", 1.6, 8.0, (512, 384)), (
        TruthObject("crate_low", crate(0.8), (-0.5, 8.0, 0.0), 10.0),
        TruthObject("crate_mid", crate(0.6), (-0.5, 8.0, 0.8), 25.0, support="crate_low"),
        TruthObject("shelf", cabinet(1.2, 0.4, 2.2), (1.3, 9.5, 0.0), -15.0),
        TruthObject("lamp", lamp(), (0.55, 7.0, 0.0), 0.0),
    ), notes="a telephoto view 7 to 10 m away; crates stacked"),
    TruthScene("hidden_base", TruthCamera(55.0, "width", 1.3, 12.0, (512, 384)), (
        TruthObject("box", crate(0.7), (0.0, 2.8, 0.0), 5.0),
        TruthObject("lamp", lamp(1.7, 0.25), (0.1, 3.6, 0.0), 0.0),       # its base behind the box
        TruthObject("cabinet", cabinet(0.9, 0.5, 1.9), (-1.5, 4.3, 0.0), 20.0),
    ), notes="a lamp whose base is hidden behind a box"),
)
