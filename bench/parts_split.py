"""How well the part split's lifting and labelling find known parts (issue 64 item 6).

Meshes built from known parts (``tests/backend/part_meshes.py``: a lamp turned on a lathe, a table of
five boxes, a figure of boxes joined by marching cubes), each face's true part known, split with the
product's own renders, lifting, labelling and cut, under three stand-ins for the models:

* ``masks_from_truth``: each render's masks are the true parts' pixels (perfect grounding and matting):
  the lifting and labelling alone;
* ``boxes_from_truth_box_masks``: the true parts' boxes, each filled whole as its mask (a matting that
  keeps everything in the box): how much the smaller-mask rule and the smoothing recover from boxes alone;
* ``boxes_from_truth_tiny_matting``: the true parts' boxes cropped as the job crops them and cut out by
  the tiny BiRefNet replica (random weights: its mattes are noise, so this is a floor, not a forecast).

Each with the smoothing on (the product) and off (the votes alone). Per-face and per-area accuracy,
mean IoU of the parts (by area), parts closed after capping, seconds. These truth paths live here only,
never in the product. ``--picture`` also writes the guide's before/after picture.

    .venv-py313/bin/python bench/parts_split.py --json bench/results/parts-split-cpu.json \
        --picture docs/images/parts_split_before_after.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from source_paths import REPO  # noqa: F401  (this checkout's backend and protocol on sys.path)

sys.path.insert(0, str(REPO / "tests" / "backend"))

from PIL import Image, ImageDraw  # noqa: E402

import part_meshes  # noqa: E402  (tests/backend/: the meshes of known parts the tests use)
from img23d_backend.part_split import lifting, masks, renders  # noqa: E402
from img23d_backend.part_split.labelling import LabelSettings, label_faces  # noqa: E402
from img23d_backend.part_split.pieces import cut  # noqa: E402
from img23d_backend.part_split.surface import surface_of  # noqa: E402
from img23d_backend.stages.grounding.ask import PALETTE  # noqa: E402


def box_masks(views: list[renders.PartView], boxes: list[list[masks.Box | None]]) -> list[np.ndarray]:
    """Per render, masks that fill each box whole, off the mesh cleared."""
    out = []
    for view, row in zip(views, boxes):
        mask = np.zeros((len(row), *view.raster.face.shape))
        for n, box in enumerate(row):
            if box is not None:
                x0, y0, x1, y1 = (int(round(v)) for v in box)
                mask[n, y0:y1, x0:x1] = 1.0
        out.append(mask * view.raster.mask)
    return out


def tiny_matting_masks(views: list[renders.PartView], boxes: list[list[masks.Box | None]], names: int,
                       matting: object) -> list[np.ndarray]:
    """The job's crops of the true boxes, cut out by the tiny matting replica."""
    from img23d_backend.env.job_control import CancelToken
    from img23d_backend.stages.matting import matte

    crops = masks.crops_for(views, boxes)
    cutouts = matte(matting, [c.picture for c in crops], batch_size=8, cancel=CancelToken(),
                    progress=lambda *a: None, input_size=256)
    return masks.masks_from_cutouts(views, names, crops, list(cutouts))


def load_tiny_matting() -> object:
    from img23d_backend.catalog import model_set
    from img23d_backend.jobs import Engine, EngineSettings
    from img23d_backend.replicas.build import ensure_tiny_models

    ensure_tiny_models()
    engine = Engine(EngineSettings(models=model_set("tiny"), runs_dir=Path("/tmp/img23d-bench-parts"), device="cpu"))
    return engine, engine.manager.use("matting")


def measure(known: part_meshes.KnownParts, view_masks: list[np.ndarray], views: list[renders.PartView],
            surface, strength: float) -> dict:
    started = time.perf_counter()
    votes = lifting.lift(views, view_masks, surface.face_count)
    lifted = time.perf_counter()
    labels = label_faces(surface, votes, LabelSettings(strength=strength))
    labelled = time.perf_counter()
    pieces = cut(surface, labels, known.names)
    done = time.perf_counter()
    ious = []
    for n in range(len(known.names)):
        both = surface.areas[(labels == n) & (known.truth == n)].sum()
        either = surface.areas[(labels == n) | (known.truth == n)].sum()
        ious.append(float(both / either) if either else 1.0)
    return {"strength": strength, "accuracy_faces": round(part_meshes.accuracy(labels, known), 4),
            "accuracy_area": round(part_meshes.accuracy(labels, known, surface.areas), 4),
            "mean_iou_area": round(float(np.mean(ious)), 4),
            "parts_closed": sum(p.closed for p in pieces), "parts_empty": sum(p.empty for p in pieces),
            "unseen_faces": int((votes.shown == 0).sum()),
            "seconds": {"lift": round(lifted - started, 3), "label": round(labelled - lifted, 3),
                        "cut_and_cap": round(done - labelled, 3)}}, labels


def picture(rows: list[tuple[part_meshes.KnownParts, object, np.ndarray]], path: Path, size: int = 320) -> None:
    """Each mesh grey (before) beside its parts coloured (after), from a three-quarter view above."""
    tiles = []
    for known, surface, labels in rows:
        view = renders.render_views(surface, size, ((35, 25),))[0]
        grey = np.asarray(view.picture, dtype=np.float64)
        face = view.raster.face
        colour = np.array(PALETTE, dtype=np.float64)[labels[np.where(view.raster.mask, face, 0)] % len(PALETTE)]
        shade = grey[..., :1] / renders._BASE_GREY
        after = np.where(view.raster.mask[..., None], np.clip(colour * (0.35 + 0.65 * shade), 0, 255), 255)
        tiles.append((view.picture, Image.fromarray(after.astype(np.uint8), "RGB"), known))
    sheet = Image.new("RGB", (2 * size, len(tiles) * (size + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (before, after, known) in enumerate(tiles):
        top = i * (size + 24)
        sheet.paste(before, (0, top + 24))
        sheet.paste(after, (size, top + 24))
        draw.text((6, top + 6), f"{known.name}: the mesh", fill="black")
        legend = ", ".join(f"{name}" for name in known.names)
        draw.text((size + 6, top + 6), f"split: {legend}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=renders.RENDER_SIZE, help="render side (the product's: 512)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None)
    parser.add_argument("--no-tiny-matting", action="store_true")
    args = parser.parse_args()
    engine = matting_use = matting = None
    if not args.no_tiny_matting:
        engine, matting_use = load_tiny_matting()
        matting = matting_use.__enter__()
    results, shown = [], []
    for make in (part_meshes.lamp, part_meshes.table, part_meshes.figure):
        known = make()
        started = time.perf_counter()
        surface = surface_of(known.vertices, known.faces)
        views = renders.render_views(surface, args.size)
        render_s = time.perf_counter() - started
        boxes = part_meshes.truth_boxes(views, known)
        conditions = {"masks_from_truth": part_meshes.truth_masks(views, known),
                      "boxes_from_truth_box_masks": box_masks(views, boxes)}
        if matting is not None:
            conditions["boxes_from_truth_tiny_matting"] = tiny_matting_masks(views, boxes, len(known.names), matting)
        entry = {"mesh": known.name, "faces": surface.face_count, "parts": known.names, "renders": len(views),
                 "render_size": args.size, "render_s": round(render_s, 3), "conditions": {}}
        for condition, view_masks in conditions.items():
            runs = []
            for strength in (1.0, 0.0):
                figures, labels = measure(known, view_masks, views, surface, strength)
                runs.append(figures)
                if condition == "masks_from_truth" and strength == 1.0:
                    shown.append((known, surface, labels))
            entry["conditions"][condition] = runs
            print(f"{known.name:7s} {condition:30s} " + "  ".join(
                f"smoothing {r['strength']:g}: faces {r['accuracy_faces']:.4f} area {r['accuracy_area']:.4f} "
                f"mIoU {r['mean_iou_area']:.4f} closed {r['parts_closed']}/{len(known.names)}" for r in runs))
        results.append(entry)
    if matting_use is not None:
        matting_use.__exit__(None, None, None)
    record = {"benchmark": "parts_split", "machine": {"processor": platform.processor() or platform.machine(),
                                                       "cpus": os.cpu_count(), "python": platform.python_version(),
                                                       "load_average": list(os.getloadavg())},
              "results": results}
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    if args.picture:
        picture([shown[0], shown[2]], args.picture)


if __name__ == "__main__":
    main()
