"""One image editor as the rest of the backend reaches it: its row (``EditorRow``: facts, no code) and
its code (``Editor``).

An image editor fills in what is hidden in an object's crop from an instruction (the completion of
hidden parts, ``jobs.steps.completing``). Every editor runs through the same driver (``driver``: three
phases through the model manager, each holding only its parts on the device; ``parts``: each part
read on its own; ``pipeline``: diffusers' pipeline over a phase's parts; ``canvas``: the crop on a
canvas the pipeline keeps; ``memory``: what each phase needs) and brings what differs:

* its row (``<editor>/model.py``'s ``ROW``): its choice name (``--editor``), its pinned spec, the
  pipeline its ``model_index.json`` names, what one edit computes (``EditorWork``, for the time
  estimate), the measured run the estimates scale from where it is the one measured
  (``EditorBenchmark``), and its tiny replica's options. The registry composes model sets from the
  rows, which import no code;
* its code (``<editor>/editor.py``'s ``EDITOR``): each part's reader, its three phases, the canvas
  its pipeline keeps, and its random-weight replica.

``table`` names each editor's folder and imports its row or its code only when asked. Nothing outside
this room names an editor or branches on one (tests/test_family_boundary.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..models.specs import ModelReplica, ModelSpec

# Every editor's size in the tiny set, and the area its replica edits at: the real model's path
# (resize, edit, resize back) at a size the tests run quickly.
TINY_EDITOR_BYTES = 2 << 20
TINY_EDIT_PIXELS = 96 * 96


@dataclass(frozen=True)
class EditorWork:
    """What one editor computes for one object: its transformer's size and shape, its text encoder's
    size, how many transformer passes (steps x guidance batches), and the instruction's tokens that join the
    picture's in every pass (joint attention: at a small area they are half the work)."""

    transformer_parameters: float
    width: int
    blocks: int
    text_parameters: float
    passes: int
    published_bytes: int   # the published weights' size, against which another size scales the work
    text_tokens: int       # the instruction's tokens in each transformer pass, whatever the area

    def step_operations(self, tokens: float) -> float:
        """One transformer pass's floating-point operations at ``tokens``: the layers' products and attention."""
        return 2 * self.transformer_parameters * tokens + 4 * self.width * self.blocks * tokens * tokens


@dataclass(frozen=True)
class EditorBenchmark:
    """One editor's completion measured on one CPU in float32 (``bench/completion.py``): the seconds
    every editor's estimate is scaled from (``costs``), the probe's speed and the area it ran at."""

    gflops: float        # the CPU's measured matrix-product speed during the run
    pixels: int          # the area the crop was edited at
    tokens: int          # the transformer's tokens at that area
    encode_s: float      # the instruction through the text encoder
    step_s: float        # one transformer call at ``tokens`` (past the first call's one-time costs)
    vae_encode_s: float  # outside the transformer while denoising: the crop's encoding
    vae_s: float         # the crop's encoding and the decoding
    rematte_s: float     # BiRefNet on the completed picture


@dataclass(frozen=True)
class EditorRow:
    """One editor's facts: what the registry, the model listing and the time estimate read."""

    name: str                     # its choice name: ``--editor``, ``models download editor/<name>``
    spec: ModelSpec               # its pinned repository, files, size and run options
    pipeline: str                 # the diffusers pipeline its ``model_index.json`` names (``_class_name``)
    work: EditorWork
    tiny_options: Mapping[str, Any]    # its tiny replica's run options (the real ones' at a small area)
    component: str                # its full-size replica's component name (``bench/full_size_models.py --only``)
    benchmark: EditorBenchmark | None = None  # the measured run, for the one editor that was measured
    # Whether it makes a picture from an instruction alone (text to image, ``text_picture``): an editor
    # that needs a picture to edit is refused for that in one sentence.
    makes_pictures: bool = False
    # The most area it edits a crop at, whatever it is asked (its code's ``edit_pixels``, checked equal by a test;
    # a fact here so that the hello's time estimate imports no diffusers); 0: any area asked.
    most_edit_pixels: int = 0

    def __post_init__(self) -> None:
        if self.spec.options.get("editor") != self.name:
            raise ValueError(f"editor {self.name!r}: its spec's options must name it (options['editor'])")

    def tiny_spec(self, root: Path) -> ModelSpec:
        """Its tiny replica under ``root``: the real folder's layout and files, in a folder of its name."""
        return self.spec.tiny_replica(Path(root) / self.name, TINY_EDITOR_BYTES, self.tiny_options)

    def full_size_spec(self, root: Path) -> ModelSpec:
        """Its full-size replica under ``root``: the tiny one's folder with the real model's figures."""
        return self.spec.full_size_replica(Path(root) / self.name)


@dataclass(frozen=True)
class CanvasRule:
    """What one pipeline keeps unchanged: sides a multiple of ``multiple``, at least ``shortest``, no more
    elongated than ``most_elongated``, at most ``largest`` pixels; ``fixed_point``: the size the pipeline
    resizes its reference to, (area, aspect) -> (width, height) (Qwen-Image-Edit's ``calculate_dimensions``),
    so the canvas must be one of the sizes it returns unchanged; None: the area alone bounds it."""

    multiple: int
    shortest: int = 0
    most_elongated: float = math.inf
    largest: float = math.inf
    fixed_point: Callable[[int, float], tuple[int, int]] | None = None

    def keeps(self, width: int, height: int, pixels: int) -> bool:
        if width % self.multiple or height % self.multiple or min(width, height) < self.shortest:
            return False
        if max(width / height, height / width) > self.most_elongated:
            return False
        if self.fixed_point is not None:
            return self.fixed_point(pixels, width / height) == (width, height)
        return width * height <= min(pixels, self.largest)


@dataclass(frozen=True)
class EditorPhases:
    """One editor's three phases (``encode`` -> ``denoise`` -> ``decode``), each given diffusers' pipeline
    over the parts its phase holds (``pipeline.EditorModel``), the requests and the cancel token."""

    encode: Callable[..., Any]
    denoise: Callable[..., Any]
    decode: Callable[..., list[Any]]              # each request's edited crop, RGB (PIL)


# (folder, device, dtype) -> one part's network (the text encoder's as a ``weights.TextEncoder``).
PartReader = Callable[[Path, Any, Any], Any]


@dataclass(frozen=True)
class Editor:
    """One image editor's code, as the driver calls it."""

    name: str
    readers: Mapping[str, PartReader]              # part ("text_encoder", "transformer", "vae") -> its reader
    phases: EditorPhases
    canvas_rule: Callable[[Any], CanvasRule]       # its pipeline -> the canvas sizes it keeps
    # The area it edits at when asked for ``pixels``, and the most pixels a crop's canvas holds then
    # (what the memory check and the time estimate count).
    edit_pixels: Callable[[int], int]
    canvas_pixels: Callable[[int], int]
    replica: ModelReplica
