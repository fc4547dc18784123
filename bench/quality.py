"""bench/quality.py: how close generated objects come to reference meshes, in the InstantMesh paper's terms.

    .venv/bin/python bench/quality.py REFERENCES GENERATED [--out quality.json] [--generate "ARGS"]

REFERENCES holds reference meshes (``<name>.glb``, ``.gltf``, ``.obj`` or ``.ply``), each with the
picture of it the generator is given (``<name>.png`` or ``.jpg``). GENERATED holds what img23d made
of each picture: ``<name>.glb``, or a run folder under ``<name>/`` (its first object's GLB; ``high/``
is left aside). With ``--generate "ARGS"`` the harness first runs ``python -m img23d_backend generate
<picture> --out GENERATED/<name> ARGS`` on each picture, as a user would. It measures; it ships no
figures: the real models are not on the machine that wrote it, a user with a GPU and the weights runs it.

What it follows (Xu et al., "InstantMesh", arXiv 2404.07191, section 4.1, as read by the author from
the paper; TencentARC/InstantMesh ships no evaluation code, its issue #151 asking for it is open):

* **Geometry.** "Align the coordinate system of the generated meshes with the ground truth meshes,
  then reposition and re-scale all meshes into a cube of size [-1, 1]^3"; Chamfer distance and F-score
  "with a threshold of 0.2", from 16K points sampled uniformly on each surface. Here: each mesh is
  centred on its bounding box's centre and scaled so that its longest side spans [-1, 1]
  (``cube_frame``); the coordinate systems are taken as the same (img23d writes glTF's axes, +Y up,
  the object facing +Z: give references so) and ``--icp`` adds a rigid ICP for small residual turns,
  after which the mesh is repositioned and re-scaled again (a turn changes its bounding box).
  Each of the 16,000 area-weighted samples of one surface is measured to the other *surface* (the
  benchmarks' exact point-to-triangle distance, ``bench/mesh_distance.py``), not to the other's
  samples, so a mesh against itself reads 0 and sampling gaps add nothing. Chamfer: the mean of the
  two one-sided mean distances (L2, not squared). F-score: precision (generated samples within 0.2 of
  the reference) and recall (the reverse), 2PR / (P + R). The same figures are also given *before*
  alignment: both meshes in the reference's frame, so an offset or a wrong size shows.
* **Pictures.** PSNR, SSIM and LPIPS between renders of the reference and of the aligned generated
  mesh from the same orbit cameras: by default 7 azimuths at each of the elevations 30, 0 and -30
  degrees (21 views, as the paper's GSO evaluation is described), orthographic, 256 px, on white.
  The renderer is the project's own (``img23d_backend.views``: the licence-clean rasterizer, each
  pixel's UV looked up in the base colour texture, unlit); a mesh without a texture is drawn grey,
  shaded by how squarely each face meets the view. SSIM is Wang et al.'s (Gaussian window, sigma 1.5)
  as scikit-image computes it, over colour; PSNR over every pixel, identical renders reading inf.
  LPIPS (AlexNet) only where the ``lpips`` package and its backbone's weights are already on this
  machine: nothing is downloaded; the output says when it is left out and why.

A mesh it cannot measure (unreadable, no triangles, a corner that is not a number, no surface) is one
sentence on stderr and a row with that ``problem`` and no figures; one too far from its reference to
measure before alignment keeps its aligned figures. The other rows are measured, and ``--out`` is
rewritten after every row, so nothing measured is lost; the table's ``failed`` lists the problems.
Bad arguments are argparse's errors (``bench/quality_inputs.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backend"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from img23d_backend.views.cameras import ViewCamera, Window, rasterize_view  # noqa: E402
from img23d_backend.views.renders import render  # noqa: E402
from mesh_distance import Surface  # noqa: E402
from quality_inputs import (BadMesh, elevations, folder, load_mesh, picture_size, positive_float,  # noqa: E402
                            positive_int, too_far)

SAMPLES = 16_000
THRESHOLD = 0.2
ELEVATIONS = (30.0, 0.0, -30.0)
AZIMUTHS = 7
SIZE = 256
SPACING = 0.01      # the distance grid's spacing in the [-1, 1] frame: a distance is exact or at most this long
MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Frame:
    """A mesh's cube frame: ``(x - centre) / scale`` puts its bounding box in [-1, 1], longest side full."""

    centre: np.ndarray
    scale: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.centre) / self.scale


def cube_frame(vertices: np.ndarray) -> Frame:
    low, high = np.min(vertices, axis=0), np.max(vertices, axis=0)
    return Frame(centre=(low + high) / 2, scale=max(float(np.max(high - low)) / 2, 1e-12))


@dataclass(frozen=True)
class Geometry:
    chamfer: float
    f_score: float
    precision: float     # generated samples within the threshold of the reference surface
    recall: float        # reference samples within the threshold of the generated surface


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """``count`` points uniformly on the surface (faces drawn by area, points uniform in each)."""
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    areas = np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(triangles), size=count, p=areas / areas.sum())
    a, b = rng.random((2, count))
    flip = a + b > 1
    a[flip], b[flip] = 1 - a[flip], 1 - b[flip]
    t = triangles[chosen]
    return t[:, 0] + a[:, None] * (t[:, 1] - t[:, 0]) + b[:, None] * (t[:, 2] - t[:, 0])


def geometry(reference: tuple[np.ndarray, np.ndarray], generated: tuple[np.ndarray, np.ndarray],
             samples: int = SAMPLES, threshold: float = THRESHOLD) -> Geometry:
    """Chamfer and F-score between two meshes already in one frame (see the module's docstring)."""
    to_generated = Surface(*generated, SPACING).distance(sample_surface(*reference, samples, seed=1))
    to_reference = Surface(*reference, SPACING).distance(sample_surface(*generated, samples, seed=2))
    precision = float(np.mean(to_reference < threshold))
    recall = float(np.mean(to_generated < threshold))
    f_score = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Geometry(chamfer=float(0.5 * (to_reference.mean() + to_generated.mean())), f_score=f_score,
                    precision=precision, recall=recall)


def icp(moving: np.ndarray, fixed: np.ndarray, iterations: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """The rigid motion (R, t) taking point set ``moving`` onto ``fixed`` by nearest points (Besl and
    McKay), from the identity: for small turns and offsets only."""
    tree = cKDTree(fixed)
    rotation, shift = np.eye(3), np.zeros(3)
    for _ in range(iterations):
        moved = moving @ rotation.T + shift
        _, index = tree.query(moved)
        target = fixed[index]
        a, b = moved.mean(0), target.mean(0)
        u, _, vt = np.linalg.svd((moved - a).T @ (target - b))
        step = vt.T @ np.diag([1, 1, np.sign(np.linalg.det(vt.T @ u.T))]) @ u.T
        rotation, shift = step @ rotation, step @ (shift - a) + b
        if np.linalg.norm(step - np.eye(3)) < 1e-9:
            break
    return rotation, shift


def orbit(elevations: tuple[float, ...], azimuths: int) -> list[ViewCamera]:
    """Cameras around +Y (glTF's up) at each elevation, the first looking at the object's front (+Z)."""
    cameras = []
    for elevation in elevations:
        for k in range(azimuths):
            az, el = 2 * math.pi * k / azimuths, math.radians(elevation)
            toward = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
            forward = -toward
            right = np.cross(forward, [0.0, 1.0, 0.0])
            right /= np.linalg.norm(right)
            cameras.append(ViewCamera(f"{elevation:g}/{math.degrees(az):g}", np.zeros(3), right,
                                      np.cross(right, forward), forward))
    return cameras


def picture(mesh: trimesh.Trimesh, camera: ViewCamera, window: Window) -> np.ndarray:
    """What ``camera`` sees of ``mesh``: RGB 0..1 on white."""
    material = getattr(mesh.visual, "material", None)
    texture = getattr(material, "baseColorTexture", None)
    if texture is not None and getattr(mesh.visual, "uv", None) is not None:
        rgba = render(mesh, texture, camera, window)
    else:
        raster = rasterize_view(camera, mesh.vertices, mesh.faces, window)
        normals = np.asarray(mesh.face_normals)[np.where(raster.mask, raster.face, 0)]
        shade = 0.25 + 0.7 * np.abs(normals @ camera.forward)
        rgba = np.concatenate([np.repeat((shade * raster.mask)[..., None], 3, axis=2),
                               raster.mask[..., None].astype(np.float64)], axis=-1)
    return rgba[..., :3] + (1 - rgba[..., 3:])  # colour is premultiplied: white where nothing is


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a - b) ** 2))
    return math.inf if error == 0 else 10 * math.log10(1.0 / error)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def lpips_scorer() -> tuple[Any, str]:
    """LPIPS (AlexNet) when its package and its backbone's weights are already here, else None and why."""
    try:
        import lpips
        import torch
    except ImportError:
        return None, "LPIPS left out: the lpips package is not installed"
    backbone = Path(torch.hub.get_dir()) / "checkpoints" / "alexnet-owt-7be5be79.pth"
    if not backbone.is_file():
        return None, f"LPIPS left out: AlexNet's weights are not at {backbone} (nothing is downloaded)"
    model = lpips.LPIPS(net="alex", verbose=False)

    def score(a: np.ndarray, b: np.ndarray) -> float:
        tensors = [torch.from_numpy(x.transpose(2, 0, 1)[None] * 2 - 1).float() for x in (a, b)]
        with torch.no_grad():
            return float(model(*tensors))
    return score, "LPIPS (AlexNet)"


@dataclass
class Row:
    """One reference's figures; a figure not measured is None, and ``problem`` says why in one sentence
    (a bad mesh: no figure at all; a far one: none before alignment)."""

    name: str
    reference: str
    generated: str
    chamfer: float | None = None
    f_score: float | None = None
    precision: float | None = None
    recall: float | None = None
    chamfer_unaligned: float | None = None
    f_score_unaligned: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    lpips: float | None = None
    views: int = 0
    per_view_psnr: list[float] = field(default_factory=list)
    problem: str | None = None


@dataclass(frozen=True)
class Settings:
    samples: int = SAMPLES
    threshold: float = THRESHOLD
    elevations: tuple[float, ...] = ELEVATIONS
    azimuths: int = AZIMUTHS
    size: int = SIZE
    icp: bool = False


def compare(name: str, reference_path: Path, generated_path: Path, settings: Settings, lpips: Any = None) -> Row:
    """Every figure for one reference and what was generated from its picture; ``BadMesh`` says why
    either mesh cannot be measured."""
    reference, generated = load_mesh(reference_path, "reference"), load_mesh(generated_path, "generated")
    frame = cube_frame(reference.vertices)
    ref_vertices = frame.apply(reference.vertices)
    far = too_far(frame.apply(generated.vertices), generated_path.name)
    unaligned = None if far else geometry((ref_vertices, reference.faces),
                                          (frame.apply(generated.vertices), generated.faces),
                                          settings.samples, settings.threshold)
    gen_vertices = cube_frame(generated.vertices).apply(generated.vertices)
    if settings.icp:
        rotation, shift = icp(sample_surface(gen_vertices, generated.faces, 4000, seed=3),
                              sample_surface(ref_vertices, reference.faces, 8000, seed=4))
        # Then repositioned and re-scaled again, as the paper does after aligning: a turn changed its box.
        gen_vertices = gen_vertices @ rotation.T + shift
        gen_vertices = cube_frame(gen_vertices).apply(gen_vertices)
    aligned = geometry((ref_vertices, reference.faces), (gen_vertices, generated.faces),
                       settings.samples, settings.threshold)
    reference.vertices, generated.vertices = ref_vertices, gen_vertices
    window = Window(half=math.sqrt(3) * 1.02, size=settings.size)  # the [-1, 1] cube from any side
    pairs = [(picture(reference, c, window), picture(generated, c, window))
             for c in orbit(settings.elevations, settings.azimuths)]
    per_view = [psnr(a, b) for a, b in pairs]
    mean_error = float(np.mean([np.mean((a - b) ** 2) for a, b in pairs]))
    return Row(name=name, reference=str(reference_path), generated=str(generated_path), chamfer=aligned.chamfer,
               f_score=aligned.f_score, precision=aligned.precision, recall=aligned.recall,
               chamfer_unaligned=unaligned.chamfer if unaligned else None,
               f_score_unaligned=unaligned.f_score if unaligned else None,
               psnr=math.inf if mean_error == 0 else 10 * math.log10(1.0 / mean_error),
               ssim=float(np.mean([ssim(a, b) for a, b in pairs])),
               lpips=float(np.mean([lpips(a, b) for a, b in pairs])) if lpips else None,
               views=len(pairs), per_view_psnr=per_view, problem=far)


def references(folder: Path) -> dict[str, tuple[Path, Path | None]]:
    """Each reference mesh by name, with its picture (None when it has none)."""
    found = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in MESH_SUFFIXES:
            picture_path = next((path.with_suffix(s) for s in PICTURE_SUFFIXES if path.with_suffix(s).is_file()), None)
            found[path.stem] = (path, picture_path)
    return found


def generated_for(folder: Path, name: str) -> Path | None:
    """``<name>.glb`` in ``folder``, else the first object's GLB of a run folder under ``<name>/``."""
    if (folder / f"{name}.glb").is_file():
        return folder / f"{name}.glb"
    found = sorted(p for p in (folder / name).rglob("*.glb") if "high" not in p.relative_to(folder / name).parts) \
        if (folder / name).is_dir() else []
    return found[0] if found else None


def generate_command(picture_path: Path, out: Path, arguments: str) -> list[str]:
    """The command line a user runs to make an object of ``picture_path`` (the whole picture, no names)."""
    return [sys.executable, "-m", "img23d_backend", "generate", str(picture_path), "--out", str(out),
            *shlex.split(arguments)]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line; a bad argument is argparse's error (one sentence, exit 2)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("references", type=folder, help="a folder of reference meshes and their pictures")
    parser.add_argument("generated", type=Path, help="a folder of generated objects, <name>.glb or <name>/ run folders")
    parser.add_argument("--out", type=Path, help="write every figure, with the settings, to this JSON file")
    parser.add_argument("--generate", metavar="ARGS", help="first run img23d's generate on each picture with ARGS")
    parser.add_argument("--samples", type=positive_int, default=SAMPLES)
    parser.add_argument("--threshold", type=positive_float, default=THRESHOLD,
                        help="the F-score's, in the [-1, 1] frame")
    parser.add_argument("--elevations", type=elevations, default=ELEVATIONS, help="degrees, comma-separated")
    parser.add_argument("--azimuths", type=positive_int, default=AZIMUTHS)
    parser.add_argument("--size", type=picture_size, default=SIZE)
    parser.add_argument("--icp", action="store_true", help="refine the alignment with a rigid ICP")
    args = parser.parse_args(argv)
    if args.generate is None and not args.generated.is_dir():
        parser.error(f"{args.generated} is not a folder")
    if args.out is not None and not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: its folder {args.out.parent} does not exist")
    if not references(args.references):
        parser.error(f"no reference meshes ({', '.join(MESH_SUFFIXES)}) in {args.references}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    settings = Settings(samples=args.samples, threshold=args.threshold, azimuths=args.azimuths, size=args.size,
                        elevations=args.elevations, icp=args.icp)
    lpips, said = lpips_scorer()
    print(said)
    rows: list[Row] = []
    missing: list[str] = []
    for name, (reference_path, picture_path) in references(args.references).items():
        if args.generate is not None and picture_path is not None:
            subprocess.run(generate_command(picture_path, args.generated / name, args.generate), check=False)
        generated = generated_for(args.generated, name)
        if generated is None:
            missing.append(f"{name}: nothing generated" + ("" if picture_path else " (and no picture of it)"))
        else:
            rows.append(_measure(name, reference_path, generated, settings, lpips))
        if args.out:  # after every row: a later failure, or a stop, loses nothing measured
            _write(args.out, settings, said, missing, rows)
    for line in missing:
        print(line)
    return 0 if rows and not any(row.problem for row in rows) and not missing else 1


def _measure(name: str, reference_path: Path, generated: Path, settings: Settings, lpips: Any) -> Row:
    """One row: its figures printed, or its mesh's problem said on stderr and kept in the row."""
    try:
        row = compare(name, reference_path, generated, settings, lpips)
    except BadMesh as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return Row(name=name, reference=str(reference_path), generated=str(generated), problem=str(exc))
    if row.problem:
        print(f"{name}: {row.problem}", file=sys.stderr)
    unaligned = ("unaligned: left out" if row.chamfer_unaligned is None else
                 f"unaligned CD {row.chamfer_unaligned:.4f} F {row.f_score_unaligned:.3f}")
    print(f"{name}: CD {row.chamfer:.4f} F@{settings.threshold:g} {row.f_score:.3f} ({unaligned}) "
          f"PSNR {row.psnr:.2f} SSIM {row.ssim:.4f}" + (f" LPIPS {row.lpips:.4f}" if row.lpips is not None else ""))
    return row


def _write(out: Path, settings: Settings, said: str, missing: list[str], rows: list[Row]) -> None:
    """The table so far; identical renders' PSNR is infinite: written "inf", as JSON has no infinity."""
    table = [{k: _finite(v) for k, v in asdict(r).items()} for r in rows]
    failed = [f"{r.name}: {r.problem}" for r in rows if r.problem]
    out.write_text(json.dumps({"settings": asdict(settings), "lpips": said, "missing": missing, "failed": failed,
                               "rows": table}, indent=2) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return "inf" if isinstance(value, float) and math.isinf(value) else value


if __name__ == "__main__":
    sys.exit(main())
