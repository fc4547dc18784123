"""The guide's and the front page's pictures of the bundled example, made by the project's own code.

    .venv/bin/python scripts/guide_pictures.py [--out docs/images]

Runs the headless main job (``scripts/main_job.py``: the add-on in Blender, the backend with the
tiny offline models, ``examples/house_scene.png`` with "house, chimney, barrel") into a
temporary folder, then keeps three of its pictures, shrunk to stay small in the repository:

  example-detections.png  the run's detections.png: each name's box on the picture (the tiny
                          grounding replica answers the boxes this picture was made to fit)
  example-layout.png      the run's layout.png: where the objects stand and the camera, from above
  example-scene.png       the main job's Cycles render through the run's camera

Then ``scripts/game_ready_pictures.py`` (in a process of its own, as the main job) makes the Game-ready
page's before/after picture, ``game-ready-before-after.png``: the example mesh as generated beside
its quads and its finished GLB, and ``scripts/material_pictures.py`` the Textures page's,
``textures-before-after.png``: the example mesh re-textured, its colour alone beside its
metallic-roughness map and both wired, and ``scripts/text_pictures.py`` the From text page's,
``from-text-run.png``: the picture ``generate --prompt`` made and what it found in it, and
``scripts/print_pictures.py`` the Print page's, ``print-plate.png``: the example mesh printed solid and
hollow. ``--only example``, ``--only game-ready``, ``--only textures``, ``--only text`` or ``--only print``
makes one set.

The tiny models' weights are random, so the meshes in the render are blobs standing where the
picture shows the house, chimney and barrel; the boxes and the layout are what a real run draws.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MAX_SIDE = 640       # pixels: enough to read the boxes and names, each file well under 300 KB
COLOURS = 128        # the overlay is a photograph: a palette keeps it small


def keep(source: Path, target: Path, palette: bool) -> None:
    with Image.open(source) as image:
        picture = image.convert("RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    if palette:
        picture = picture.quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    picture.save(target, format="PNG", optimize=True)
    print(f"{target.relative_to(ROOT)}: {picture.size[0]}x{picture.size[1]}, {target.stat().st_size // 1024} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", choices=("example", "game-ready", "textures", "text", "print"), default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "example"):
        example_pictures(args.out)
    for name, script in (("game-ready", "game_ready_pictures.py"), ("textures", "material_pictures.py"),
                         ("text", "text_pictures.py"), ("print", "print_pictures.py")):
        if args.only in (None, name):  # each in a process of its own, as the main job
            subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--out", str(args.out)], check=True)
    return 0


def example_pictures(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="img23d-guide-") as work:
        job = Path(work) / "main-job"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "main_job.py"), "--out", str(job)], check=True)
        [run] = sorted((job / "runs").iterdir())
        keep(run / "detections.png", out / "example-detections.png", palette=True)
        keep(run / "layout.png", out / "example-layout.png", palette=False)
        keep(job / "preview.png", out / "example-scene.png", palette=True)


if __name__ == "__main__":
    sys.exit(main())
