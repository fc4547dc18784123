"""``layout.png``: each run folder draws where its objects were placed, seen from above.

A generate job that places three objects writes a readable top view beside its manifest, with
each footprint where the manifest says it stands; the drawing itself puts footprints, the
camera and its field of view where the layout has them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image

from testdata import FAST_OPTIONS, HOUSE

from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.layout.picture import (COLOURS, SIZE, WEDGE, PlacedObject, draw_layout, horizontal_fov,
                                           placed_objects)
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import GenerateRequest, JobOptions, TargetRecord

CAMERA = {"fov_degrees": 60.0, "width": 1000, "height": 800}


def test_a_run_with_three_placed_objects_draws_its_layout(tiny_root: Path, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    # Pixel boxes on the example picture's house, chimney and front-right barrel (examples/README.md).
    boxes = {"house": [190.0, 108.0, 901.0, 881.0], "chimney": [614.0, 82.0, 763.0, 594.0],
             "barrel": [737.0, 860.0, 794.0, 906.0]}
    request = GenerateRequest(id="three", image=str(HOUSE), targets=list(boxes), boxes=boxes,
                              options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="three", emit=lambda message: None))
    run = Path(data.run_dir)
    manifest = json.loads((run / "manifest.json").read_text())
    records = manifest["records"]
    assert [r["status"] for r in records] == ["done"] * 3
    assert all(len(r["placement"]["extents"]) == 3 for r in records)  # what the footprints are drawn from
    with Image.open(run / "layout.png") as picture:
        picture.load()
        assert picture.format == "PNG" and picture.size == (SIZE, SIZE)
        colours = {colour for _, colour in picture.convert("RGB").getcolors(SIZE * SIZE)}
    assert set(COLOURS[:3]) <= colours  # one outline per object
    # The same drawing again from the manifest alone: the run folder is all it needs.
    again = draw_layout(manifest["scene"]["camera"], placed_objects(TargetRecord.from_dict(r) for r in records))
    with Image.open(run / "layout.png") as picture:
        assert list(again.getdata()) == list(picture.convert("RGB").getdata())


def _pixel(image: Image.Image, x: float, y: float, objects: list[PlacedObject]) -> tuple[int, int, int]:
    """The colour at world point (x, y) on the picture (the drawing's own mapping, recomputed)."""
    points = [(0.0, 0.0)] + [p for obj in objects for p in obj.corners()]
    far = max(math.hypot(px, py) for px, py in points) * 1.25
    half = horizontal_fov(CAMERA) / 2
    points += [(-far * math.sin(half), far * math.cos(half)), (far * math.sin(half), far * math.cos(half))]
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    span = max(x1 - x0, y1 - y0)
    scale = (SIZE - 112) / span
    u = SIZE / 2 + (x - (x0 + x1) / 2) * scale
    v = SIZE / 2 - (y - (y0 + y1) / 2) * scale
    return image.getpixel((round(u), round(v)))


def test_footprints_the_camera_and_its_view_are_where_the_layout_puts_them() -> None:
    objects = [PlacedObject("left", -2.0, 6.0, 0.3, 1.0, 1.0, True),
               PlacedObject("right", 2.5, 9.0, -0.2, 2.0, 1.0, False)]
    image = draw_layout(CAMERA, objects)
    fills = [tuple(int(c + (255 - c) * 0.55) for c in colour) for colour in COLOURS[:2]]
    assert _pixel(image, -2.0 + 0.25, 6.0, objects) == fills[0]      # inside each footprint: its colour
    assert _pixel(image, 2.5 - 0.5, 9.0 + 0.2, objects) == fills[1]
    assert _pixel(image, 0.0, 3.0, objects) == WEDGE                  # straight ahead: inside the view
    assert _pixel(image, -4.0, 1.0, objects) != WEDGE                 # 76 degrees off: outside a 60-degree view
    assert horizontal_fov({"fov_degrees": 60.0, "width": 800, "height": 1000}) < math.radians(60.0)
