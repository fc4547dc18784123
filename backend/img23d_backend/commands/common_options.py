"""The options every command that runs models shares (``cli.build_parser``'s, passed to each command's parser):
which models (the set, the family, each role's choice), on which device and within how much memory, whether to
download and under which licences, where the run folders go, and how much to say."""

from __future__ import annotations

import argparse
from pathlib import Path

from img23d_protocol import BUDGET_GB_MAX, BUDGET_GB_MIN, DEFAULT_FAMILY, MODEL_FAMILIES, choices_help

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
                   help="model family: hunyuan3d (Hunyuan3D-2 shape and texture; its licence excludes the EU, "
                        "the UK and South Korea) or clean (Step1X-3D geometry and its texture model over SDXL: Apache-2.0, SDXL's Open RAIL++-M); "
                        f"default: --shape's family, else {DEFAULT_FAMILY}")
    p.add_argument("--shape", default=None, choices=tuple(SHAPE),
                   help="the family's shape model (default: its own, 2mini-turbo or step1x; step1x-label takes "
                        "--symmetry and --edges): the Hunyuan3D-2 turbo variants run 5 steps, the others 30 "
                        "(unless --steps says otherwise)")
    p.add_argument("--paint", default=DEFAULT_PAINT, choices=tuple(PAINT),
                   help="Hunyuan3D-Paint variant: 2.0-turbo (the default) paints in 10 steps without a "
                        "guidance batch, 2.0 in 30 with one (unless --paint-steps says otherwise)")
    p.add_argument("--matting", default=DEFAULT_MATTING, choices=tuple(MATTING), help=choices_help("matting"))
    p.add_argument("--depth", default=DEFAULT_DEPTH, choices=tuple(DEPTH), help=choices_help("depth"))
    p.add_argument("--editor", default=DEFAULT_EDITOR, choices=tuple(EDITORS),
                   help="image editor that completes hidden parts: flux2-klein-4b (the default; runs in phases "
                        "on a 12 GB card) or qwen-image-edit-2511 (20B, 57.7 GB of weights: a GPU of about "
                        "48 GB or more)")
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
