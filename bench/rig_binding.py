"""How well the geometric binding finds known bones, and how long it takes (issue 65 item 8).

A biped and a quadruped built from tubes (``tests/backend/rig_meshes.py``: each bone a tube, each
vertex's true bone known) are bound to the skeleton they were built on, then rigged from the shape alone:

* ``accuracy``: each vertex's strongest bone against its true one, over all vertices and over those
  away from the joints (20 % to 80 % along their bone: at a joint two tubes meet and both bones are right);
* RigNet's measures (Xu et al. 2020): skin precision, recall and L1 against the one-hot true weights (a
  one-hot reference makes precision the share of a vertex's influences that are its own bone: blending
  near joints lowers it by design), and CD-J2J of the shape-alone skeleton's joints against the true ones;
* ``deformation``: the left forearm turned 60 degrees about its elbow by linear blend skinning: the least
  movement of its far half, and the most movement of the head, the right arm and the right leg;
* ``resolution``: the biped bound at 64, 80 (the product's) and 112 cells along its longest side;
* ``fused``: issue 73's figures on fused creatures (``tests/backend/fused_creatures.py``: capsules along a
  known skeleton unioned into one surface): the strongest bone against the nearest capsule's, over all
  vertices and away from joints; the hips, spine and chest regions and where their wrong vertices went;
  one limb swung 60 degrees by the weights and the share of the rest that moves no more than 1 % of the
  height; the shape-alone skeleton's joints against the truth (count, CD-J2J over the height) and against
  its own mirror image; ``--before`` keeps an earlier run's figures beside them (``fused_before``);
* ``timing``: the whole geometric rig (voxels, shape-alone skeleton, binding) of a ~50k-face biped and a
  100k-vertex one, three runs each, median.

    .venv-py313/bin/python bench/rig_binding.py --json bench/results/rig-binding-cpu.json \
        --picture docs/images/rig_binding_pose.png

``--picture`` also writes the guide's picture: each figure at rest, coloured by each vertex's strongest bone,
beside the same figure with one limb turned by the binding's weights (linear blend skinning), rendered by
img23d's own rasterizer from a three-quarter view.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from source_paths import REPO  # noqa: F401  (this checkout's backend and protocol on sys.path)

sys.path.insert(0, str(REPO / "tests" / "backend"))

import fused_creatures  # noqa: E402  (tests/backend/: fused figures of known bones)
import rig_meshes  # noqa: E402  (tests/backend/: the meshes of known bones the tests use)
from img23d_backend.rigging import metrics  # noqa: E402
from img23d_backend.rigging.geometric import bind, rig  # noqa: E402
from img23d_backend.rigging.rigger import RigMesh, RigOptions  # noqa: E402
from img23d_backend.rigging.skeleton import Skeleton  # noqa: E402
from img23d_backend.parts.split import renders  # noqa: E402
from img23d_backend.parts.split.surface import surface_of  # noqa: E402
from img23d_backend.grounding.driver import PALETTE  # noqa: E402


def joints_of(skeleton: Skeleton) -> np.ndarray:
    """Every head, and the tail of every leaf (where a chain ends)."""
    leaves = [j for j in range(skeleton.count) if not skeleton.children(j)]
    return np.concatenate([skeleton.heads, skeleton.tails[leaves]])


def along(made: rig_meshes.RiggedMesh) -> np.ndarray:
    heads, tails = made.skeleton.heads[made.truth], made.skeleton.tails[made.truth]
    axis = tails - heads
    return ((made.positions - heads) * axis).sum(axis=1) / (axis * axis).sum(axis=1)


def pose(made: rig_meshes.RiggedMesh, weights: np.ndarray, bone: int, degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    moving = {bone}
    for _ in range(made.skeleton.count):
        moving |= {j for j, p in enumerate(made.skeleton.parents) if p in moving}
    pivot = made.skeleton.heads[bone]
    share = weights[:, sorted(moving)].sum(axis=1, keepdims=True)
    return share * ((made.positions - pivot) @ turn.T + pivot) + (1 - share) * made.positions


def quality(made: rig_meshes.RiggedMesh, deform: tuple[str, list[str]] | None) -> dict:
    binding = bind(made.positions, made.triangles, made.skeleton)
    dense = binding.skin.dense(made.skeleton.count)
    truth = np.eye(made.skeleton.count)[made.truth]
    inner = (along(made) > 0.2) & (along(made) < 0.8)
    precision, recall = metrics.skin_precision_recall(dense, truth)
    shaped = rig(RigMesh(made.positions, made.triangles), None, RigOptions())
    out = {"vertices": len(made.positions), "faces": len(made.triangles), "bones": made.skeleton.count,
           "accuracy_all": round(metrics.strongest_bone_accuracy(binding.skin.strongest, made.truth), 4),
           "accuracy_away_from_joints": round(metrics.strongest_bone_accuracy(binding.skin.strongest[inner],
                                                                              made.truth[inner]), 4),
           "skin_precision": round(precision, 4), "skin_recall": round(recall, 4),
           "skin_l1": round(metrics.skin_l1(dense, truth), 4),
           "shape_alone": {"bones": shaped.skeleton.count, "humanoid": shaped.humanoid,
                           "names": list(shaped.skeleton.names),
                           "cd_j2j": round(metrics.joint_chamfer(joints_of(shaped.skeleton), joints_of(made.skeleton)), 4),
                           "cd_j2j_over_height": round(metrics.joint_chamfer(joints_of(shaped.skeleton),
                                                                             joints_of(made.skeleton))
                                                       / float(np.ptp(made.positions, axis=0).max()), 4)},
           "seconds": round(binding.seconds, 3)}
    if deform is not None:
        limb, still = deform
        bone = made.skeleton.names.index(limb)
        shift = np.linalg.norm(pose(made, dense, bone, 60.0) - made.positions, axis=1)
        own = (made.truth == bone) & (along(made) > 0.5)
        rest = np.isin(made.truth, [made.skeleton.names.index(n) for n in still])
        out["deformation"] = {"limb": limb, "degrees": 60, "limb_far_half_min_move": round(float(shift[own].min()), 4),
                              "still_parts": still, "still_parts_max_move": round(float(shift[rest].max()), 6)}
    return out


# Each fused figure, the limb swung 60 degrees and the axis it turns about (X: forwards, Y: in the
# figure's plane), with the spacing of its surface: the nearly touching ones need a fine one.
FUSED = (
    ("biped_T", lambda: fused_creatures.biped("T"), "upper_arm_L", (0.0, 1.0, 0.0)),
    ("biped_A", lambda: fused_creatures.biped("A"), "upper_arm_L", (1.0, 0.0, 0.0)),
    ("biped_close_1cm", lambda: fused_creatures.biped("close", 0.01, spacing=0.006), "upper_arm_L", (1.0, 0.0, 0.0)),
    ("quadruped_tail", lambda: fused_creatures.quadruped(), "front_upper_L", (1.0, 0.0, 0.0)),
    ("quadruped_front_legs_1cm", lambda: fused_creatures.quadruped(0.01, spacing=0.006), "front_upper_L",
     (1.0, 0.0, 0.0)),
)


def turned(positions: np.ndarray, weights: np.ndarray, moving: list[int], pivot: np.ndarray,
           axis: np.ndarray, degrees: float) -> np.ndarray:
    """Linear blend skinning with the ``moving`` bones turned ``degrees`` about ``axis`` at ``pivot``."""
    from scipy.spatial.transform import Rotation

    matrix = Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis, float)).as_matrix()
    share = weights[:, moving].sum(axis=1, keepdims=True)
    return share * ((positions - pivot) @ matrix.T + pivot) + (1 - share) * positions


def mirror_gap(skeleton: Skeleton, height: float) -> float:
    """How far the skeleton is from its own mirror image across X = 0 (CD-J2J over the height)."""
    joints = joints_of(skeleton)
    return metrics.joint_chamfer(joints, joints * [-1, 1, 1]) / height


def fused_quality(creature: fused_creatures.FusedCreature, limb: str, axis: tuple) -> dict:
    """The figures of issue 73 item 2 on one fused creature: the binding to its true skeleton as the rig
    job runs it, one limb swung, and the skeleton the shape alone gives."""
    mesh = RigMesh(creature.positions, creature.triangles)
    started = time.perf_counter()
    given = rig(mesh, creature.skeleton, RigOptions())
    bind_seconds = time.perf_counter() - started
    strongest, truth, away = given.skin.strongest, creature.truth, ~creature.near_joint
    regions = {}
    for name in ("hips", "spine", "chest"):
        own = truth == creature.bone(name)
        regions[name] = {"vertices": int(own.sum()), "share_right": round(float((strongest[own] == truth[own]).mean()), 4),
                         "went_to": {creature.skeleton.names[b]: int(n) for b, n in
                                     zip(*np.unique(strongest[own & (strongest != truth)], return_counts=True))
                                     if n >= 0.02 * own.sum()}}
    dense = given.skin.dense(creature.skeleton.count)
    moving = creature.subtree(limb)
    shift = np.linalg.norm(turned(creature.positions, dense, moving, creature.skeleton.heads[creature.bone(limb)],
                                  np.array(axis), 60.0) - creature.positions, axis=1)
    rest = ~np.isin(truth, moving)
    far_limb = np.isin(truth, moving[1:]) if len(moving) > 1 else truth == moving[0]
    shaped = rig(mesh, None, RigOptions())
    true_joints, found = joints_of(creature.skeleton), joints_of(shaped.skeleton)
    return {
        "vertices": len(creature.positions), "faces": len(creature.triangles), "bones": creature.skeleton.count,
        "height": round(creature.height, 3), "near_joint_share": round(float(creature.near_joint.mean()), 4),
        "accuracy_all": round(float((strongest == truth).mean()), 4),
        "accuracy_away_from_joints": round(float((strongest[away] == truth[away]).mean()), 4),
        "regions": regions,
        "swing": {"limb": limb, "axis": list(axis), "degrees": 60,
                  "rest_still_share": round(float((shift[rest] <= 0.01 * creature.height).mean()), 4),
                  "rest_moved_vertices": int((shift[rest] > 0.01 * creature.height).sum()),
                  "limb_beyond_its_first_bone_least_move": round(float(shift[far_limb].min()), 4)},
        "bind_seconds": round(bind_seconds, 3),
        "shape_alone": {"source": shaped.source, "bones": shaped.skeleton.count, "joints": len(found),
                        "true_joints": len(true_joints),
                        "joint_count_error": round(abs(len(found) - len(true_joints)) / len(true_joints), 4),
                        "cd_j2j_over_height": round(metrics.joint_chamfer(found, true_joints) / creature.height, 4),
                        "mirror_gap_over_height": round(mirror_gap(shaped.skeleton, creature.height), 4),
                        "names": list(shaped.skeleton.names)},
    }


def fused(selected: list[str] | None) -> dict:
    out = {}
    for name, make, limb, axis in FUSED:
        if selected and name not in selected:
            continue
        out[name] = fused_quality(make(), limb, axis)
        print(name, json.dumps({k: v for k, v in out[name].items() if k != "shape_alone"}), file=sys.stderr)
    return out


def timing(rings: int, sides: int, repeat: int) -> dict:
    made = rig_meshes.biped(rings=rings, sides=sides)
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        rig(RigMesh(made.positions, made.triangles), None, RigOptions())
        runs.append(time.perf_counter() - started)
    given = []
    for _ in range(repeat):
        given.append(bind(made.positions, made.triangles, made.skeleton).seconds)
    return {"vertices": len(made.positions), "faces": len(made.triangles),
            "shape_alone_rig_seconds_median": round(statistics.median(runs), 3),
            "given_skeleton_bind_seconds_median": round(statistics.median(given), 3), "repeat": repeat}


def _render(positions: np.ndarray, triangles: np.ndarray, strongest: np.ndarray, size: int) -> Image.Image:
    """The mesh from a three-quarter view, each face in its strongest bone's colour, shaded by the render."""
    view = renders.render_views(surface_of(positions, triangles), size, ((35, 20),))[0]
    face = np.where(view.raster.mask, view.raster.face, 0)
    bone = strongest[triangles[face, 0]]
    colour = np.array(PALETTE, dtype=np.float64)[bone % len(PALETTE)]
    shade = np.asarray(view.picture, dtype=np.float64)[..., :1] / renders._BASE_GREY
    shown = np.where(view.raster.mask[..., None], np.clip(colour * (0.35 + 0.65 * shade), 0, 255), 255)
    return Image.fromarray(shown.astype(np.uint8), "RGB")


def picture(path: Path, size: int = 320) -> None:
    """Each figure at rest and with one limb turned, coloured by strongest bone (see the docstring)."""
    rows = [(rig_meshes.biped(), "upper_arm_L", -50.0), (rig_meshes.quadruped(), "front_upper_L", 40.0)]
    sheet = Image.new("RGB", (2 * size, len(rows) * (size + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (made, limb, degrees) in enumerate(rows):
        binding = bind(made.positions, made.triangles, made.skeleton)
        dense = binding.skin.dense(made.skeleton.count)
        turned = pose(made, dense, made.skeleton.names.index(limb), degrees)
        top = i * (size + 24)
        sheet.paste(_render(made.positions, made.triangles, binding.skin.strongest, size), (0, top + 24))
        sheet.paste(_render(turned, made.triangles, binding.skin.strongest, size), (size, top + 24))
        draw.text((6, top + 6), f"strongest bone of each vertex ({made.skeleton.count} bones)", fill="black")
        draw.text((size + 6, top + 6), f"{limb} turned {abs(degrees):.0f} degrees by the weights", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def _cpu_name() -> str:
    """The processor's model name as Linux reports it (platform.processor() is often empty)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None, help="write the guide's picture there too")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fused-only", action="store_true", help="only the fused creatures (issue 73)")
    parser.add_argument("--creature", action="append", help="only these fused creatures (repeatable)")
    parser.add_argument("--before", type=Path, default=None,
                        help="an earlier --fused-only JSON to keep beside the new figures (as fused_before)")
    parser.add_argument("--before-commit", default="", help="the commit that earlier JSON measured")
    args = parser.parse_args()
    if args.fused_only:
        text = json.dumps({"fused": fused(args.creature)}, indent=2)
        print(text)
        if args.json:
            args.json.write_text(text + "\n")
        return
    biped = rig_meshes.biped()
    result = {
        "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": [round(v, 2) for v in os.getloadavg()]},
        "biped": quality(biped, ("forearm_L", ["head", "upper_arm_R", "forearm_R", "thigh_R", "shin_R"])),
        "quadruped": quality(rig_meshes.quadruped(), ("front_lower_L", ["head", "tail", "back_lower_R"])),
        "resolution": {str(cells): {"accuracy_all": round(metrics.strongest_bone_accuracy(
            (b := bind(biped.positions, biped.triangles, biped.skeleton, cells=cells)).skin.strongest, biped.truth), 4),
            "seconds": round(b.seconds, 3)} for cells in (64, 80, 112)},
        "fused": fused(args.creature),
        "timing": {"about_50k_faces": timing(40, 52, args.repeat), "about_100k_vertices": timing(100, 84, args.repeat)},
    }
    if args.before:
        result["fused_before"] = {"commit": args.before_commit, **json.loads(args.before.read_text())}
    result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.picture:
        picture(args.picture)


if __name__ == "__main__":
    main()
