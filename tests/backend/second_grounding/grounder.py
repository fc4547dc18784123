"""Colour Words' code: a 1 x 1 convolution from RGB to one score per colour (the colour words and the white
backdrop: twice the pixel's dot product with the colour less its squared length, so the highest is the nearest
colour), loaded from its folder's ``palette.pt`` through the model manager. Each connected region of one colour
word's pixels is a box, in the pixels of the picture it was given; a name is found where its colour word is, its
boxes labelled with the name; listing the picture labels each region with its colour word."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from img23d_backend.env.job_control import CancelToken, ProgressFn
from img23d_backend.grounding.grounder import Detection, Grounder, GroundingAnswer, GroundingOptions
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.specs import ModelReplica, ModelSpec

from .model import NAME

# The colours it knows, as 0..255 RGB; the backdrop's is scored too, so that white is no colour word's.
COLOURS: dict[str, tuple[int, int, int]] = {"red": (200, 30, 30), "green": (30, 160, 30), "blue": (30, 30, 200),
                                            "yellow": (230, 210, 40)}
BACKDROP = (255, 255, 255)
MIN_PIXELS = 4   # a region smaller than this (at the side the model reads) is a speck, no object


def network() -> torch.nn.Conv2d:
    """Nearest colour as a convolution, known weights, no training: score_k(x) = 2 c_k . x - |c_k|^2."""
    centres = torch.tensor([*COLOURS.values(), BACKDROP], dtype=torch.float32) / 255.0
    palette = torch.nn.Conv2d(3, len(centres), 1)
    with torch.no_grad():
        palette.weight.copy_(2.0 * centres[:, :, None, None])
        palette.bias.copy_(-(centres ** 2).sum(dim=1))
    return palette


def _load(folder: Path, device: Any) -> LoadedModel:
    palette = torch.nn.Conv2d(3, len(COLOURS) + 1, 1)
    palette.load_state_dict(torch.load(Path(folder) / "palette.pt", map_location="cpu", weights_only=True))
    palette.to(device).eval()
    return LoadedModel(obj=palette, modules=[palette])


def loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    return _load


@dataclass(frozen=True)
class Region:
    word: str
    box: tuple[float, float, float, float]   # in the pixels of the picture given
    score: float                               # the share of its box its colour fills


def regions(palette: Any, picture: Image.Image, max_pixels: int) -> list[Region]:
    """Every connected region of a colour word's pixels, read at most ``max_pixels`` large."""
    width, height = picture.size
    scale = min(1.0, (max_pixels / (width * height)) ** 0.5)
    read = picture.convert("RGB")
    if scale < 1.0:
        read = read.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.NEAREST)
    parameter = next(palette.parameters())
    pixels = torch.from_numpy(np.asarray(read, np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        nearest = palette(pixels.to(parameter.device, parameter.dtype))[0].argmax(dim=0).cpu().numpy()
    across, down = width / read.width, height / read.height
    found = []
    for index, word in enumerate(COLOURS):
        labels, _ = ndimage.label(nearest == index)
        for number, rows_columns in enumerate(ndimage.find_objects(labels), start=1):
            rows, columns = rows_columns
            size = int((labels[rows, columns] == number).sum())
            if size < MIN_PIXELS:
                continue
            area = (rows.stop - rows.start) * (columns.stop - columns.start)
            found.append(Region(word, (columns.start * across, rows.start * down, columns.stop * across,
                                       rows.stop * down), size / area))
    return found


def _colour_of(name: str) -> str | None:
    words = "".join(ch if ch.isalnum() else " " for ch in name.casefold()).split()
    return next((word for word in words if word in COLOURS), None)


def find(palette: Any, picture: Image.Image, names: list[str], *, options: GroundingOptions, cancel: CancelToken,
         progress: ProgressFn | None = None) -> GroundingAnswer:
    cancel.check()
    seen = regions(palette, picture, options.max_pixels)
    found = [Detection(name.strip(), region.box, region.score) for name in names
             for region in seen if region.word == _colour_of(name)]
    if progress is not None:
        progress("grounding", 1, 1, f"{len(found)} regions of the names' colours")
    return GroundingAnswer(found)


def name_objects(palette: Any, picture: Image.Image, *, options: GroundingOptions, cancel: CancelToken,
                 progress: ProgressFn | None = None) -> GroundingAnswer:
    cancel.check()
    return GroundingAnswer([Detection(region.word, region.box, region.score)
                            for region in regions(palette, picture, options.max_pixels)])


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    Path(folder).mkdir(parents=True, exist_ok=True)
    torch.save(network().state_dict(), Path(folder) / "palette.pt")
    return {"class": "ColourWords", "colours": list(COLOURS)}, 0


GROUNDERS: dict[str, Grounder] = {
    NAME: Grounder(name=NAME, loader=loader, find=find, name_objects=name_objects,
                   replica=ModelReplica(build=_build, construct=lambda: {"palette": network()},
                                        published_params={"total": 4 * (len(COLOURS) + 1)})),
}
