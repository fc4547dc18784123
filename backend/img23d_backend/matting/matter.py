"""One matting model as the rest of the backend reaches it: its row (``MattingRow``: facts, no code) and its
code (``Matter``). Light: the catalog reads the rows on every start.

A matting model turns each crop into the probability that a pixel is the object's. Every one runs through the
same driver (``driver``: the crops in batches, a not-a-number matte run again in full precision, the cut-out's
edge colours cleaned, ``foreground``) and the same memory check (``memory``), and brings what differs:

* its row (``<model>/model.py``'s ``ROWS``, by choice name): its pinned spec, whose options name it and the side
  it reads crops at; its tiny replica's folder; its memory figures; its full-size component's name;
* its code (``<model>/matter.py``'s ``MATTERS``): its loader, its prediction and its random-weight replica.

``table`` names each model's folder and imports its row or its code only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from ..env.room_table import check_named
from ..models.specs import ModelCode, ModelReplica, ModelSpec

TINY_MATTING_BYTES = 1 << 20   # every matting model's size in the tiny set


@dataclass(frozen=True)
class MattingMemory:
    """How a matting model's activations grow with the pixels it reads (``memory`` reads them)."""

    bytes_per_input_pixel: int         # one crop's activations, beside the weights
    batch_bytes_per_input_pixel: int   # each crop more in one batch
    published_bytes: int               # its real weights in 16 bits: a replica of another size counts in proportion


@dataclass(frozen=True)
class MattingRow:
    """One matting model's facts: what the catalog, the model listing, the memory check and the replicas read."""

    name: str                 # its choice name (``--matting``, the protocol's ``MATTING_MODELS``)
    spec: ModelSpec           # its pinned repository, files and size; options name it and its input side
    tiny_folder: str          # its tiny replica's folder below the tiny set's root
    memory: MattingMemory
    component: str = ""       # its full-size replica's component name ("": none)

    def __post_init__(self) -> None:
        check_named(self, "matting", "matting model")
        if "input_size" not in self.spec.options:
            raise ValueError(f"matting model {self.name!r}: its spec's options must say the side it reads crops at "
                             "(options['input_size'])")

    @property
    def input_side(self) -> int:
        """The side it reads a crop at: the size it was trained at."""
        return int(self.spec.options["input_size"])

    def tiny_spec(self, root: Path) -> ModelSpec:
        """Its tiny replica under ``root``, read at the real model's input side, its remote code trusted at the
        real model's pinned revision; a model whose files are all named (``exact_files``) is checked by them."""
        named = self.spec.allow_patterns if self.spec.exact_files else ()
        return ModelSpec(role="matting", repo_id=f"tiny/{self.tiny_folder}", local_path=Path(root) / self.tiny_folder,
                         revision=self.spec.revision, size_bytes=TINY_MATTING_BYTES, allow_patterns=named,
                         exact_files=self.spec.exact_files, trust_remote_code=self.spec.trust_remote_code,
                         options=dict(self.spec.options))

    def full_size_spec(self, root: Path) -> ModelSpec:
        """Its full-size replica under ``root``: the tiny one's folder with the real model's size."""
        return replace(self.tiny_spec(root), repo_id=f"full-size/{self.tiny_folder}", size_bytes=self.spec.size_bytes)


# (the loaded network, RGB crops, the side it reads them at) -> foreground probabilities [N, H, W], float32 on
# the CPU, at that side
Predict = Callable[[Any, list[Any], int], Any]


@dataclass(frozen=True)
class Matter(ModelCode):
    """One matting model's code, as the driver calls it."""

    predict: Predict
