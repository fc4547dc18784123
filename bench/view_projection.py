"""Every photo colours what it sees (issue 55 item 5), measured: meshes whose texture differs on every
side are rendered from their sides, their bare copies re-textured from those renders, and renders of
the result from the sides and between them compared with the original's (PSNR per angle).

The meshes are made here (``tests/backend/view_meshes.py``: a box, a vase, a character-like figure,
each with a pattern that tells front from back and left from right), written as GLB files in Blender's
axes as an artist would hand them over, and rendered with the project's own rasterizer
(``views.renders``: the licence-clean family's, unlit, 256 px, real alpha so no matting). Each is
re-textured three times through ``api.Session.retexture`` (the call the ``retexture`` command makes,
one session so the tiny models load once): from the front alone (the tiny paint model's result, no
views: the baseline), from the front and back (2 views), from all four sides (4). The tiny models'
paint is noise: the baseline says what the surface looks like where no photo reaches.

    HF_HUB_OFFLINE=1 IMG23D_TINY_MODELS=... .venv-py313/bin/python bench/view_projection.py \\
        --json bench/results/view-projection-cpu.json --picture docs/images/views_before_after.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(REPO / "tests" / "backend"))

from PIL import Image, ImageDraw  # noqa: E402

import view_meshes  # noqa: E402  (tests/backend/: the textured meshes the tests use)
from img23d_backend import api  # noqa: E402
from img23d_backend.views.renders import camera_at, render  # noqa: E402

MESHES = {"box": view_meshes.box, "vase": view_meshes.vase, "figure": view_meshes.figure}
CASES = {"none": (), "two": ("back",), "four": ("left", "back", "right")}
ANGLES = (0, 45, 90, 135, 180, 225, 270, 315)   # the sides' cameras and the angles between them
SIZE = 256


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--picture", type=Path, default=None, help="write the before/after picture of the figure here")
    parser.add_argument("--meshes", nargs="+", default=list(MESHES), choices=list(MESHES))
    return parser.parse_args(argv)


def measure(session: api.Session, name: str, folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The mesh's figures for each case, and its renders (original and each case) for the picture."""
    original = MESHES[name]()
    glb = view_meshes.write_glb(original, folder / f"{name}.glb")
    photos = {}
    for side, picture in view_meshes.side_renders(original, ("front", "left", "back", "right"), SIZE).items():
        photos[side] = folder / f"{name}-{side}.png"
        picture.save(photos[side])
    centre, window = view_meshes.frame(original, SIZE)
    reference = {angle: render(original, original.visual.material.baseColorTexture, camera_at(angle, centre), window)
                 for angle in ANGLES}
    options = api.JobOptions(texture_size=512, paint_steps=2, delight_steps=2, materials=False, face_budget=0)
    figures: dict = {"faces": int(len(original.faces)), "cases": {}}
    renders = {"original": reference}
    for case, sides in CASES.items():
        start = time.perf_counter()
        result = session.retexture(glb, photos["front"], options, name=name,
                                   views={side: photos[side] for side in sides})
        seconds = time.perf_counter() - start
        made = view_meshes.read_glb(result.mesh)
        shown = {angle: render(made, made.visual.material.baseColorTexture, camera_at(angle, centre), window)
                 for angle in ANGLES}
        manifest = json.loads((result.run_dir / "manifest.json").read_text())
        record = manifest["records"][0]
        figures["cases"][case] = {
            "photos": ["front", *sides] if sides else ["front (painted from it, no projection)"],
            "psnr_db": {str(angle): round(view_meshes.psnr(reference[angle], shown[angle]), 2) for angle in ANGLES},
            "views": record.get("projection"), "job_s": round(seconds, 1),
            "projection_s": manifest["timings"].get("projection"), "paint_s": manifest["timings"].get("paint")}
        renders[case] = shown
        print(name, case, figures["cases"][case]["psnr_db"], f"{seconds:.0f} s", flush=True)
    return figures, renders


def picture(renders: dict[str, dict[int, np.ndarray]], path: Path) -> None:
    """Rows: the figure from the front, from 45 degrees, from the back; columns: the original, painted by
    the tiny model alone, with two photos, with four."""
    columns = [("original", "original"), ("none", "paint alone"), ("two", "+ back photo"), ("four", "+ 4 photos")]
    angles = (0, 45, 180)
    label = 22
    sheet = Image.new("RGB", (SIZE * len(columns), label + SIZE * len(angles)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for column, (case, title) in enumerate(columns):
        draw.text((column * SIZE + 8, 4), title, fill=(0, 0, 0))
        for row, angle in enumerate(angles):
            rgba = renders[case][angle]
            rgb = rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])
            sheet.paste(Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)), (column * SIZE, label + row * SIZE))
    for row, angle in enumerate(angles):
        draw.text((4, label + row * SIZE + 4), f"{angle} deg", fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()
    results: dict = {"device": "cpu", "processor": platform.processor() or platform.machine(),
                     "cpu_count": os.cpu_count(), "models": "tiny", "texture_size": 512, "render_size": SIZE,
                     "load_average_start": [round(x, 2) for x in load_start], "meshes": {}}
    with tempfile.TemporaryDirectory(prefix="img23d-views-") as folder:
        with api.Session(Path(folder) / "runs", api.Models(models="tiny", device="cpu")) as session:
            for name in args.meshes:
                results["meshes"][name], renders = measure(session, name, Path(folder))
                if name == "figure" and args.picture is not None:
                    picture(renders, args.picture)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
