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

Each with the smoothing on (the product) and off (the votes alone).

``--fused-only``: meshes fused as a generated one is (issue 73 item 4: a chair, a lamp and a mug, each a
union of signed distances through marching cubes, ``--cells`` along the longest side) under three
mattes: exact, spilled by a few pixels, each true box whole (the coarse case). Per mesh and matte:
connected pieces, parts closed, each part's open edges counted here and as the product reports them,
the caps' share of the area, accuracy. ``--fused-key`` names the figures in the JSON (the figures of
the code before a change are kept beside those after it). Per-face and per-area accuracy,
mean IoU of the parts (by area), parts closed after capping, seconds. These truth paths live here only,
never in the product. ``--picture`` also writes the guide's before/after picture.

    .venv-py313/bin/python bench/parts_split.py --json bench/results/parts-split-cpu.json \
        --picture docs/images/parts_split_before_after.png
    .venv-py313/bin/python bench/parts_split.py --json bench/results/parts-split-cpu.json --fused-only
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
from img23d_backend.parts.split import lifting, masks, renders  # noqa: E402
from img23d_backend.parts.split.labelling import LabelSettings, label_faces  # noqa: E402
from img23d_backend.parts.split.pieces import cut  # noqa: E402
from img23d_backend.parts.split.surface import surface_of  # noqa: E402
from img23d_backend.grounding.driver import PALETTE  # noqa: E402


def tiny_matting_masks(views: list[renders.PartView], boxes: list[list[masks.Box | None]], names: int,
                       matting: object) -> list[np.ndarray]:
    """The job's crops of the true boxes, cut out by the tiny matting replica."""
    from img23d_backend.env.job_control import CancelToken
    from img23d_backend.matting.driver import matte

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


FUSED = (part_meshes.fused_chair, part_meshes.fused_lamp, part_meshes.fused_mug)


def fused_masks(views: list[renders.PartView], known: part_meshes.KnownParts, size: int) -> dict[str, list]:
    """The three mattes of issue 73: exact, spilled by a few pixels (4 at 512 px), each true box whole."""
    return {"exact": part_meshes.truth_masks(views, known),
            "spilled": part_meshes.spilled_masks(views, known, max(1, round(size / 128))),
            "whole_boxes": part_meshes.box_masks(views, known)}


def direct_open_edges(faces: np.ndarray) -> int:
    """Edges of ``faces`` not joined by exactly two faces wound opposite ways, counted here on their own
    (not by the product's count), so that what ``parts.json`` says can be checked against it."""
    if len(faces) == 0:
        return 0
    directed = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)
    undirected, where = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True)
    where = where.reshape(-1)
    uses = np.bincount(where, minlength=len(undirected))
    forward = np.bincount(where, weights=(directed[:, 0] < directed[:, 1]).astype(float), minlength=len(undirected))
    return int(((uses != 2) | (forward != 1)).sum())


def pieces_count(surface, faces: np.ndarray) -> int:
    """Connected pieces (through shared edges) of the input's faces ``faces``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    inside = np.zeros(surface.face_count, dtype=bool)
    inside[faces] = True
    a, b = surface.pairs[:, 0], surface.pairs[:, 1]
    keep = inside[a] & inside[b]
    graph = coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(surface.face_count,) * 2)
    _, piece = connected_components(graph, directed=False)
    return len(np.unique(piece[faces]))


def measure_fused(known: part_meshes.KnownParts, size: int) -> dict:
    """One fused mesh split under each matte: pieces, parts closed, open edges per part (counted here and as
    the product reports them), the caps' share of the area, accuracy, seconds."""
    started = time.perf_counter()
    surface = surface_of(known.vertices, known.faces)
    views = renders.render_views(surface, size)
    entry = {"mesh": known.name, "faces": surface.face_count, "parts": known.names,
             "render_s": round(time.perf_counter() - started, 3), "masks": {}}
    for kind, view_masks in fused_masks(views, known, size).items():
        began = time.perf_counter()
        labels = label_faces(surface, lifting.lift(views, view_masks, surface.face_count))
        pieces = cut(surface, labels, known.names)
        seconds = time.perf_counter() - began
        caps = [p.vertices[p.faces[len(p.source_faces):]] for p in pieces]
        cap_area = sum(float(np.linalg.norm(np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]), axis=1).sum()) / 2
                       for c in caps if len(c))
        entry["masks"][kind] = {
            "accuracy_faces": round(part_meshes.accuracy(labels, known), 4),
            "accuracy_area": round(part_meshes.accuracy(labels, known, surface.areas), 4),
            "pieces": sum(pieces_count(surface, p.source_faces) for p in pieces if not p.empty),
            "parts_closed": sum(p.closed for p in pieces),
            "open_edges_counted": {p.name: direct_open_edges(p.faces) for p in pieces},
            "open_edges_reported": {p.name: getattr(p, "open_edges", None) for p in pieces},
            "open_cuts_reported": {p.name: p.open_cuts for p in pieces},
            "cap_area_share": round(cap_area / float(surface.areas.sum()), 4),
            "label_and_cut_s": round(seconds, 3)}
        row = entry["masks"][kind]
        print(f"{known.name:10s} {kind:11s} faces {row['accuracy_faces']:.4f} pieces {row['pieces']:4d} closed "
              f"{row['parts_closed']}/{len(known.names)} open edges {sum(row['open_edges_counted'].values()):5d} "
              f"(reported {row['open_edges_reported']}, open_cuts {sum(row['open_cuts_reported'].values())}) "
              f"caps {100 * row['cap_area_share']:.1f} %")
    return entry


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


def machine() -> dict:
    return {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "load_average": list(os.getloadavg())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=renders.RENDER_SIZE, help="render side (the product's: 512)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None)
    parser.add_argument("--no-tiny-matting", action="store_true")
    parser.add_argument("--fused-only", action="store_true", help="only the fused meshes (issue 73), merged into "
                                                                  "--json under --fused-key")
    parser.add_argument("--fused-key", default="fused", help="the key of the fused meshes' figures in --json")
    parser.add_argument("--cells", type=int, default=128,
                        help="the fused meshes' marching-cubes cells along their longest side")
    args = parser.parse_args()
    if args.fused_only:
        record = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
        record[args.fused_key] = {"machine": machine(), "render_size": args.size, "cells": args.cells,
                                  "results": [measure_fused(make(args.cells), args.size) for make in FUSED]}
        if args.json:
            args.json.write_text(json.dumps(record, indent=2) + "\n")
        return
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
                      "boxes_from_truth_box_masks": part_meshes.box_masks(views, known)}
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
    record = {"benchmark": "parts_split", "machine": machine(), "results": results}
    if args.json and args.json.is_file():  # the fused meshes' figures (--fused-only) are kept
        record = {**json.loads(args.json.read_text()), **record}
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    if args.picture:
        picture([shown[0], shown[2]], args.picture)


if __name__ == "__main__":
    main()
