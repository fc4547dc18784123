"""The layout scored against true scenes (issue 98): every scene folder under ``--scenes`` laid out through the
product's own code from inputs of one kind, and scored as the field scores scenes (``scene_scores``).

    .venv/bin/python bench/truth_scenes.py --out bench/scenes          # the project's own scenes (Blender)
    .venv/bin/python bench/scene_truth.py --scenes bench/scenes --inputs metric \
        --json bench/results/scene-truth-metric-cpu.json
    .venv/bin/python bench/scene_truth.py --scenes bench/scenes --inputs relative --shift 0.1 --json ...

Inputs (``scene_layout_inputs``): ``metric`` (a perfect metric depth model: the true depth, field of view,
mattes and meshes) and ``relative --shift S`` (disparity a / z + b, b = S times the nearest object's, the
artist's default field of view). A scene folder that cannot be read is one sentence in the output and in the
JSON (``errors``); the other scenes are still scored. ``layout_seconds_per_object`` is the layout's own time
(statistics, solve, placements), this CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trimesh
from img23d_backend.clean_raster import rasterize
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scene_chain import ChainRun  # noqa: E402  (the bench folder's own modules)
from scene_folder import SceneError, SceneFolder, read_scene  # noqa: E402
from scene_layout_inputs import inputs_for, lay_out  # noqa: E402
from scene_scores import (SAMPLES, best_scale, box_of, chamfer_f, in_frustum, inside, iou_b,  # noqa: E402
                          midi_scores, rms_radius, surface, volume_points, yaw_between)

NEAR, FAR = 0.05, 1000.0


def visible(meshes: dict[str, tuple[np.ndarray, np.ndarray]], focal: float,
            size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Each mesh's visible pixels through a pinhole of ``focal`` (camera-frame vertices), by img23d's own
    rasterizer (``clean_raster``)."""
    width, height = size
    names, vertices, faces, owner, offset = list(meshes), [], [], [], 0
    for n, name in enumerate(names):
        v, f = meshes[name]
        vertices.append(v)
        faces.append(f + offset)
        owner.append(np.full(len(f), n))
        offset += len(v)
    v = np.concatenate(vertices)
    z = v[:, 2]
    # The rasterizer's rows run with clip-space y (row 0 at y = -1): the camera frame's y, down, is that way already
    # (checked: the true meshes through the true camera give masks.png, ``truth_mask_iou``).
    clip = np.stack([2 * focal * v[:, 0] / width, 2 * focal * v[:, 1] / height,
                     (FAR + NEAR) / (FAR - NEAR) * z - 2 * FAR * NEAR / (FAR - NEAR), z], axis=1)
    found, _ = rasterize(torch.from_numpy(clip).float(), torch.from_numpy(np.concatenate(faces)), (height, width))
    found = found.numpy().astype(np.int64)
    whose = np.concatenate([[-1], np.concatenate(owner)])[found]
    return {name: whose == n for n, name in enumerate(names)}


def top_view(scene: SceneFolder, placed: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, side: int = 384) -> None:
    """The picture beside a view from above of the camera frame (x across, z away from the camera at the bottom):
    each object's true surface in grey, where the layout placed it in colour."""
    truth = {item.name: surface(scene.camera.to_camera(item.world), item.faces, 4000) for item in scene.objects}
    every = np.concatenate([*truth.values(), *(surface(*placed[n], 4000) for n in truth if n in placed)])
    reach = max(float(np.abs(every[:, 0]).max()), float(every[:, 2].max()) / 2) * 1.08
    view = Image.new("RGB", (side, side), (252, 252, 250))
    draw = ImageDraw.Draw(view)

    def pixel(points: np.ndarray) -> np.ndarray:
        return np.stack([side / 2 + points[:, 0] / reach * side / 2, side - 8 - points[:, 2] / reach * side / 2], 1)

    colours = ((41, 114, 181), (228, 87, 46), (92, 166, 74), (142, 86, 171), (200, 160, 40))
    for points in truth.values():
        for u, v in pixel(points):
            draw.point((u, v), fill=(170, 170, 170))
    for n, item in enumerate(scene.objects):
        if item.name in placed:
            for u, v in pixel(surface(*placed[item.name], 4000)):
                draw.point((u, v), fill=colours[n % len(colours)])
    draw.polygon([(side / 2, side - 2), (side / 2 - 6, side - 12), (side / 2 + 6, side - 12)], fill=(40, 40, 40))
    picture = Image.open(scene.root / "picture.png").convert("RGB")
    picture = picture.resize((round(picture.width * side / picture.height), side))
    sheet = Image.new("RGB", (picture.width + side + 8, side), (255, 255, 255))
    sheet.paste(picture, (0, 0))
    sheet.paste(view, (picture.width + 8, 0))
    sheet.save(path)


def score_scene(scene: SceneFolder, kind: str, shift: float, samples: int = SAMPLES,
                picture: Path | None = None, chain: ChainRun | None = None) -> dict[str, Any]:
    truth = {item.name: scene.camera.to_camera(item.world) for item in scene.objects}
    started = time.perf_counter()
    if chain is not None:  # the chain's own models: its meshes, as its run placed them
        meshes, focal, said = chain.placed(scene)
        if said is not None:
            return {"objects": {item.name: {"placed": False, "why": said} for item in scene.objects}, "said": said}
        placed, faces = {n: v for n, (v, _) in meshes.items()}, {n: f for n, (_, f) in meshes.items()}
        camera: dict[str, Any] = {"focal_px": round(focal, 3)}
    else:  # the truth's own meshes, each laid out by the product's layout
        layout, placed = lay_out(scene, inputs_for(scene, kind, shift))
        faces, focal = {item.name: item.faces for item in scene.objects}, layout.camera.focal
        camera = {"fov_degrees": round(layout.camera.fov_degrees, 3), "pitch_degrees":
                  round(float(np.degrees(layout.camera.pitch)), 3), "height_m": round(layout.camera.elevation, 4)}
    seconds = time.perf_counter() - started
    matched = chain is None  # the placed meshes are the true ones, vertex for vertex: their turn can be read
    if picture is not None:
        top_view(scene, {n: (placed[n], faces[n]) for n in placed}, picture)
    supports = {item.name: item.support for item in scene.objects}
    true_masks = {item.name: scene.mask(item) for item in scene.objects}
    size = scene.camera.resolution
    seen = visible({name: (placed[name], faces[name]) for name in placed}, focal, size)
    checked = visible({item.name: (truth[item.name], item.faces) for item in scene.objects}, scene.camera.focal_px,
                      size)
    world = {name: scene.camera.to_world(points) for name, points in placed.items()}
    solids = {name: trimesh.Trimesh(world[name], faces[name], process=False) for name in placed}
    objects: dict[str, Any] = {}
    pred_all, true_all = [], []
    for item in scene.objects:
        name = item.name
        if name not in placed:
            objects[name] = {"placed": False, "why": "the chain placed no mesh for it" if chain is not None else
                             "no visible pixel in masks.png"}
            continue
        p_surface, t_surface = surface(placed[name], faces[name], samples), surface(truth[name], item.faces, samples)
        pred_all.append(p_surface)
        true_all.append(t_surface)
        p_box, t_box = box_of(placed[name]), box_of(truth[name])
        centre_error = float(np.linalg.norm(p_box.mean(axis=0) - t_box.mean(axis=0)))
        distance = float(np.linalg.norm(t_box.mean(axis=0)))
        p_world, t_world = scene.camera.to_world(p_surface), item.world
        objects[name] = {
            "placed": True, "bbox_camera": [[round(float(v), 4) for v in row] for row in p_box],
            "true_bbox_camera": [[round(float(v), 4) for v in row] for row in t_box],
            "iou_b": round(iou_b(p_box, t_box), 4), "centre_error_m": round(centre_error, 4),
            "centre_error_pct": round(100 * centre_error / distance, 2),
            "size_ratio": round(rms_radius(p_surface) / rms_radius(t_surface), 4),
            "yaw_error_deg": round(yaw_between(scene.camera.to_world(t_surface), p_world), 2) if matched else None,
            "support": supports[name], "support_gap_m": round(_gap(name, supports[name], world, faces, samples), 4),
            "penetration_pct": round(_penetration(name, solids), 2),
            "mask_iou": round(_iou(seen[name], true_masks[name]), 4),
            "truth_mask_iou": round(_iou(checked[name], true_masks[name]), 4),
            "visible_share": round(float(true_masks[name].sum()) / max(float(checked[name].sum()), 1.0), 3),
            "distance_m": round(distance, 3)}
    if not pred_all:
        return {"objects": objects, "placed_none": True}
    pred, true = np.concatenate(pred_all), np.concatenate(true_all)
    cut = pred[in_frustum(pred, focal, size)]
    scale = best_scale(pred, true)
    for name in placed:  # each box scaled about the camera by the scene's best scale: what only the scale cost
        objects[name]["best_scale_iou_b"] = round(iou_b(box_of(placed[name]) * scale, box_of(truth[name])), 4)
    return {"objects": objects, "layout_seconds": round(seconds, 4),
            "layout_seconds_per_object": round(seconds / max(len(placed), 1), 4),
            "camera": {**camera, "true_pitch_degrees": scene.camera.pitch_degrees,
                       "true_height_m": round(float(scene.camera.location[2]), 4)},
            "metric": chamfer_f(cut, true, (0.1, 0.05)),
            "best_scale": {"scale": round(scale, 4), **chamfer_f(pred * scale, true, (0.1, 0.05))},
            "midi": midi_scores(pred, true)}


def _gap(name: str, support: str, world: dict[str, np.ndarray], faces: dict[str, np.ndarray], samples: int
         ) -> float:
    """Its lowest point above the floor, or above the highest point of its support's surface under its footprint
    (sampled on the surface: a house's vertices are its corners, none of them under a chimney on its slope)."""
    low = float(world[name][:, 2].min())
    if support == "floor" or support not in world:
        return low
    points = world[name]
    (x0, y0), (x1, y1) = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    under = surface(world[support], faces[support], samples)
    within = under[(under[:, 0] >= x0) & (under[:, 0] <= x1) & (under[:, 1] >= y0) & (under[:, 1] <= y1)]
    top = float((within if len(within) else under)[:, 2].max())
    return low - top


def _penetration(name: str, solids: dict[str, trimesh.Trimesh]) -> float:
    points = volume_points(solids[name])
    if len(points) == 0:
        return 0.0
    taken = points[:, 2] < 0
    for other, solid in solids.items():
        if other != name:
            taken |= inside(solid, points)
    return 100 * float(taken.mean())


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = float((a | b).sum())
    return float((a & b).sum()) / union if union else 0.0


def summary(scenes: dict[str, Any]) -> dict[str, Any]:
    objects = [o for s in scenes.values() for o in s["objects"].values() if o.get("placed")]

    def median(key: str) -> float | None:
        values = [o[key] for o in objects if o.get(key) is not None]
        return round(statistics.median(values), 4) if values else None

    sizes = [o["size_ratio"] for o in objects]
    scored = {name: scene for name, scene in scenes.items() if "metric" in scene}  # a scene with something placed
    return {"objects": len(objects), "median_iou_b": median("iou_b"),
            "median_best_scale_iou_b": median("best_scale_iou_b"), "median_centre_error_pct":
            median("centre_error_pct"), "median_size_ratio": median("size_ratio"),
            "size_ratio_range": [min(sizes), max(sizes)] if sizes else None,
            "largest_support_gap_m": max((abs(o["support_gap_m"]) for o in objects), default=None),
            "largest_penetration_pct": max((o["penetration_pct"] for o in objects), default=None),
            "median_mask_iou": median("mask_iou"), "median_yaw_error_deg": median("yaw_error_deg"),
            "metric_f1_0.1_per_scene": {n: round(s["metric"]["f1_0.1"], 4) for n, s in scored.items()},
            "best_scale_f1_0.1_per_scene": {n: round(s["best_scale"]["f1_0.1"], 4) for n, s in scored.items()},
            "median_layout_seconds_per_object": round(statistics.median(
                s["layout_seconds_per_object"] for s in scored.values()), 4) if scored else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, required=True, help="a folder of scene folders")
    parser.add_argument("--inputs", choices=("metric", "relative", "models"), default="metric")
    parser.add_argument("--models", choices=("tiny", "default"), default="tiny",
                        help="models inputs: the tiny replicas (random weights) or the real models")
    parser.add_argument("--depth", default="da2-small", help="models inputs: the depth model (--depth's choices)")
    parser.add_argument("--shift", type=float, default=0.0, help="relative inputs: the disparity's shift, as a "
                                                                 "share of the nearest object's disparity")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="surface points per object (default "
                                                                     "%(default)s, as MIDI samples)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--picture", nargs=2, metavar=("SCENE", "PNG"), default=None,
                        help="draw SCENE's picture beside a view from above of its truth (grey) and its layout")
    args = parser.parse_args(argv)
    if not args.scenes.is_dir():
        print(f"no folder of scenes at {args.scenes}", file=sys.stderr)
        return 2
    scenes: dict[str, Any] = {}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="scene-truth-runs-") as runs:  # the chain's run folders, not kept
        chain = ChainRun(args.models, args.depth, Path(runs)) if args.inputs == "models" else None
        try:
            _score_all(args, scenes, errors, chain)
        finally:
            if chain is not None:
                chain.close()
    weights = chain.weights if chain is not None else "none: the inputs are the scenes' truth (no model ran)"
    result = {"inputs": args.inputs, "shift": args.shift if args.inputs == "relative" else None,
              "models": f"{args.models}, depth {args.depth}" if chain is not None else None,
              "weights": weights, "summary": summary(scenes),
              "scenes": scenes, "errors": errors, "machine": {"processor": platform.processor() or platform.machine(),
                                                              "python": platform.python_version()}}
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if scenes else 1


def _score_all(args: argparse.Namespace, scenes: dict[str, Any], errors: list[str], chain: ChainRun | None) -> None:
    for root in sorted(p for p in args.scenes.iterdir() if p.is_dir()):
        try:
            scene = read_scene(root)
        except SceneError as exc:
            errors.append(str(exc))
            print(exc, file=sys.stderr)
            continue
        drawn = Path(args.picture[1]) if args.picture and args.picture[0] == scene.name else None
        scenes[scene.name] = figures = score_scene(scene, args.inputs, args.shift, args.samples, drawn, chain)
        if "metric" not in figures:
            print(f"{scene.name}: nothing placed ({figures.get('said', 'no object placed')})", flush=True)
            continue
        ious = [o["iou_b"] for o in figures["objects"].values() if o.get("placed")]
        print(f"{scene.name}: IoU-B {', '.join(f'{v:.2f}' for v in ious)}; metric F1@0.1 "
              f"{figures['metric']['f1_0.1']:.2f}; best scale x{figures['best_scale']['scale']:.2f} F1@0.1 "
              f"{figures['best_scale']['f1_0.1']:.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
