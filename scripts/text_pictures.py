"""The "From text" page's picture, made by the project's own code: a prompt, the picture made from it, and what
Generate found in it.

    .venv/bin/python scripts/text_pictures.py [--out docs/images]

Runs ``python -m img23d_backend generate --prompt "a wooden barrel beside a small house" --targets "barrel, house"``
with the tiny offline models, as an artist types it (the picture made by the image editor's replica through the
same job as FLUX.2 [klein] 4B's, kept as the run's ``input.png``), then sets side by side:

  1. the picture made from the prompt (shown larger, each pixel a block: the replica paints at 96 x 96),
  2. the run's ``detections.png``: each name's box where the grounding model found it.

The tiny models' weights are random, so the made picture is noise and the boxes are where the replicas answer,
not a barrel and a house: the sheet shows what a prompt's run keeps and where, not what the real models paint.
Written as ``from-text-run.png`` (a palette PNG). Called by ``scripts/guide_pictures.py --only text``; runs alone too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from render_panels import PANEL, picture_main, save, side_by_side

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a wooden barrel beside a small house"
NAMES = "barrel, house"
FLAGS = ("--models", "tiny", "--device", "cpu", "--seed", "5", "--octree-resolution", "32", "--no-texture")


def make(out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="img23d-from-text-") as work:
        runs = Path(work) / "runs"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-m", "img23d_backend", "generate", "--prompt", PROMPT, "--targets", NAMES,
                        "--out", str(runs), *FLAGS], check=True, env=env)
        [run] = sorted(runs.iterdir())
        panels = []
        for name in ("input.png", "detections.png"):  # each pixel a block: the replica's picture is 96 x 96
            with Image.open(run / name) as image:
                panels.append(Path(work) / f"panel-{name}")
                image.convert("RGB").resize((PANEL, PANEL), Image.Resampling.NEAREST).save(panels[-1])
        sheet = side_by_side(panels, (f'made from "{PROMPT}"', f"found: {NAMES}"))
        return save(sheet, out, "from-text-run.png")


if __name__ == "__main__":
    sys.exit(picture_main(__doc__, make))
