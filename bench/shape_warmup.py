"""Where a first shape batch's extra seconds go: the production shape call, each batch size twice.

    python bench/shape_warmup.py --models-dir DIR [--build] [--device cuda] [--batches 1 1 3 3 8 8]
                                 [--json FILE]

On a lent H200 the chain benchmark (``bench/results/chain-full-size-gpu.json``) found the shape
stage of a first job with 1, 3 and 8 targets taking 10, 28 and 61 s where the same job a second
time took 0.7, 2.1 and 8.7 s, with no weights moved between them. This loads the full-size
Hunyuan3D-2 mini turbo replica once (``bench/full_size_models.py``'s component ``shape``) by its
production loader and runs ``generate_shapes`` (as a Generate job calls it: the default preset's 5
steps, octree 256, FlashVDM) on one cut-out per target for each batch size in turn, timing from its
progress events the first interval (image encoding and the first step), the later steps and each
target's decoding, with the device synchronised at every event, so the first call of a size shows
which part pays. The JSON is written after every batch.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)
from img23d_backend.models.replica_common import prepare_imports, write_json  # noqa: E402

prepare_imports()  # before hy3dgen: torchvision's compiled ops may not load

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from img23d_backend.env.job_control import CancelToken  # noqa: E402
from img23d_backend.families.hunyuan3d.shape import generate_shapes, shape_loader  # noqa: E402
from img23d_backend.families.hunyuan3d.shape_decode import FLASHVDM  # noqa: E402
from img23d_backend.replicas.full import build_full_size_models, component_spec  # noqa: E402
from img23d_backend.mesh.shapes import ShapeSettings  # noqa: E402
from img23d_protocol import SHAPE_MODELS  # noqa: E402
from shape_views import cutout  # noqa: E402  (bench/: the shape benchmarks' cut-out)

MODEL = SHAPE_MODELS["2mini-turbo"]  # the default preset's shape model


def target_cutout(index: int) -> Image.Image:
    """A target's cut-out: ``shape_views``'s ellipse, of a width of its own, so the batch's images differ."""
    return cutout(200 + 24 * (index % 6))


def one_batch(model: Any, targets: int, device: torch.device) -> dict[str, Any]:
    """``targets`` cut-outs through ``generate_shapes`` in one batch: the intervals between its events."""
    events: list[float] = []

    def progress(*_: Any) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        events.append(time.perf_counter())

    settings = ShapeSettings(steps=MODEL.steps, octree_resolution=MODEL.octree, guidance_scale=MODEL.guidance,
                             batch_size=0, decoder=FLASHVDM)
    started = time.perf_counter()
    meshes = generate_shapes(model, [target_cutout(i) for i in range(targets)], list(range(targets)), settings,
                             cancel=CancelToken(), progress=progress)
    steps = [b - a for a, b in zip(events[:MODEL.steps], events[1:MODEL.steps])]
    return {"targets": targets, "seconds": round(time.perf_counter() - started, 3),
            "encode_and_first_step": round(events[0] - started, 3),
            "later_steps": [round(s, 3) for s in steps],
            "decodes": [round(b - a, 3) for a, b in zip(events[MODEL.steps - 1:], events[MODEL.steps:])],
            "faces": [0 if m is None else len(m.faces) for m in meshes]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--build", action="store_true", help="build the full-size shape replica first where missing")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 1, 3, 3, 8, 8])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.build:
        build_full_size_models(args.models_dir, ["shape"])
    device = torch.device(args.device)
    spec = component_spec(args.models_dir, "shape")
    started = time.perf_counter()
    loaded = shape_loader(spec)(spec.local_path, device)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else args.device,
        "torch": torch.__version__, "model": MODEL.label, "steps": MODEL.steps, "octree": MODEL.octree,
        "decoder": FLASHVDM, "load_s": round(time.perf_counter() - started, 2), "batches": []}
    for targets in args.batches:
        with torch.inference_mode():
            figures = one_batch(loaded.obj, targets, device)
        report["batches"].append(figures)
        print(f"{targets} targets: {figures['seconds']:.2f} s (encode and first step "
              f"{figures['encode_and_first_step']:.2f} s, later steps {figures['later_steps']}, "
              f"decodes {figures['decodes']})", flush=True)
        if args.json:
            write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
