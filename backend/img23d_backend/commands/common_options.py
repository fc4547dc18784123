"""The options every command that runs models shares (``cli.build_parser``'s, passed to each command's parser):
which models (the set, the family, each role's choice), on which device and within how much memory, whether to
download and under which licences, where the run folders go, and how much to say."""

from __future__ import annotations

import argparse
from pathlib import Path

from img23d_protocol import (BUDGET_GB_MAX, BUDGET_GB_MIN, DEFAULT_FAMILY, IMAGE_EDITORS, MODEL_FAMILIES, PAINT_MODELS,
                             SHAPE_MODELS, choices_help, rows_help)

from ..catalog import (DEFAULT_EDITOR, DEFAULT_GROUNDING, DEFAULT_MATTING, DEFAULT_PAINT, DEPTH, EDITORS, GROUNDING,
                       MATTING, PAINT, SHAPE)
from ..depth.table import DEFAULT_DEPTH
from ..models.role_devices import MOVABLE_ROLES, device_for_argument

DEFAULT_RUNS_DIR = Path("img23d-runs")


def add_common_options(p: argparse.ArgumentParser) -> None:
    """The shared options, added to ``p``."""
    p.add_argument("--models", default="default", choices=("default", "tiny"),
                   help="model set: real models from the Hugging Face hub, or tiny offline replicas")
    p.add_argument("--grounding", default=DEFAULT_GROUNDING, choices=[*GROUNDING], help=choices_help("grounding"))
    p.add_argument("--family", default=None, choices=tuple(MODEL_FAMILIES),
                   help=rows_help("model family", MODEL_FAMILIES.values())
                   + f"; default: --shape's family, else {DEFAULT_FAMILY}")
    own = ", ".join(f"{family.name} {family.shape}" for family in MODEL_FAMILIES.values())
    p.add_argument("--shape", default=None, choices=tuple(SHAPE),
                   help=rows_help("the family's shape model", (SHAPE_MODELS[name] for name in SHAPE))
                   + f"; default: the family's own ({own}); --steps asks for other steps, and a model that takes a "
                     "symmetry and an edge sharpness takes them from --symmetry and --edges")
    p.add_argument("--paint", default=DEFAULT_PAINT, choices=tuple(PAINT),
                   help=rows_help("Hunyuan3D-Paint variant", (PAINT_MODELS[name] for name in PAINT))
                   + f"; default: {DEFAULT_PAINT}; --paint-steps asks for other steps")
    p.add_argument("--matting", default=DEFAULT_MATTING, choices=tuple(MATTING), help=choices_help("matting"))
    p.add_argument("--depth", default=DEFAULT_DEPTH, choices=tuple(DEPTH), help=choices_help("depth"))
    p.add_argument("--editor", default=DEFAULT_EDITOR, choices=tuple(EDITORS),
                   help=rows_help("image editor", (IMAGE_EDITORS[name] for name in EDITORS))
                   + f"; default: {DEFAULT_EDITOR}")
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N, mps or cpu")
    p.add_argument("--device-for", action="append", type=device_for_argument, default=[], metavar="ROLE=DEVICE",
                   help="one model on another device than --device (repeatable), e.g. grounding=cpu: its model in "
                        "RAM, the others on the GPU, to fit a smaller card; roles: " + ", ".join(MOVABLE_ROLES))
    p.add_argument("--budget-gb", type=float, default=None,
                   help=f"device memory the models may use, {BUDGET_GB_MIN:g} to {BUDGET_GB_MAX:g} "
                        "(default: free memory minus 1 GB)")
    p.add_argument("--memory-cap-gb", type=float, default=None, help="device memory the whole backend may use "
                   "(a GPU's allocator is held to it); models that do not fit under it together take turns: slower")
    p.add_argument("--offline", action="store_true", help="never download; use the local cache only")
    p.add_argument("--accept-licence", action="store_true",
                   help="accept the licences of the models this command downloads where they restrict territory "
                        "or use (Hunyuan3D-2's: not the EU, the UK or South Korea); without it such a model "
                        "that is not downloaded yet is refused, and nothing is downloaded")
    p.add_argument("--out", type=folder_argument, default=DEFAULT_RUNS_DIR,
                   help="folder that keeps one folder per run")
    p.add_argument("-v", "--verbose", action="store_true", help="log details on stderr")


def folder_argument(text: str) -> Path:  # Path("") is ".": run folders in the current directory
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give the folder that keeps the run folders")
    return Path(text)
