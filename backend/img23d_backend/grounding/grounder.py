"""One grounding model as the rest of the backend reaches it: its row (``GroundingRow``: facts, no code) and its
code (``Grounder``), and what every one answers (``GroundingAnswer``: boxes, ``Detection``) under what options
(``GroundingOptions``). Light: the catalog reads the rows on every start.

A grounding model reads a picture and names and answers with boxes, each labelled, in the picture's own pixels:
how it asks, reads or converts its answer is its own (``<model>/``). The room's driver (``driver``: the manager's
loader, ``find``, the boxes drawn) matches its boxes to the names (``matching``), whichever model gave them. Every
model brings what differs:

* its row (``<model>/model.py``'s ``ROWS``, by choice name): its pinned spec, whose options name it and bound its
  answer and the picture's pixels; its tiny replica's folder, size and options; its full-size component's name;
* its code (``<model>/grounder.py``'s ``GROUNDERS``): its loader, its ``find`` (the picture and the names in, its
  boxes for them out), its ``name_objects`` (the picture in, a box for each object it sees, labelled with a short
  name) and its random-weight replica.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from ..env.job_control import CancelToken, ProgressFn
from ..env.room_table import check_named
from ..models.specs import ModelCode, ModelSpec

if TYPE_CHECKING:  # the rows are read on every start, before PIL is
    from PIL import Image

# The cap on an answer's tokens (a spec's option ``max_new_tokens``): room for a dozen boxes of each of 32 names
# (the protocol's MAX_TARGETS) of up to 40 bytes each. Each job's budget comes from its names.
ANSWER_TOKEN_CAP = 40_960
# The picture's most pixels where a spec names none (its option ``max_pixels``): about 1.3 megapixels.
DEFAULT_MAX_PIXELS = 1280 * 32 * 32


@dataclass(frozen=True)
class GroundingOptions:
    """A grounding model's options from its ``ModelSpec.options``."""

    max_new_tokens: int = ANSWER_TOKEN_CAP   # the cap; the budget per job comes from the names
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_spec(cls, options: Mapping[str, Any]) -> "GroundingOptions":
        return cls(max_new_tokens=int(options.get("max_new_tokens", cls.max_new_tokens)),
                   max_pixels=int(options.get("max_pixels", cls.max_pixels)))


@dataclass(frozen=True)
class Detection:
    """One box a grounding model found: its label, its corners (x0, y0, x1, y1) in the pixels of the picture it
    was given, and its score where it gives one."""

    label: str | None
    box: tuple[float, float, float, float]
    score: float | None = None

    def __post_init__(self) -> None:
        # Validate here so that from_dict (and any caller) cannot build a box the
        # rest of the pipeline would have to re-check.
        if self.label is not None and not isinstance(self.label, str):
            raise ValueError(f"label must be a string or None, got {self.label!r}")
        box = tuple(_require_number(v, "box coordinate") for v in _require_sequence(self.box))
        if len(box) != 4:
            raise ValueError(f"box must have 4 numbers, got {self.box!r}")
        x0, y0, x1, y1 = box
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"box must satisfy x0 < x1 and y0 < y1, got {self.box!r}")
        object.__setattr__(self, "box", box)
        if self.score is not None:
            object.__setattr__(self, "score", _require_number(self.score, "score"))

    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)

    def to_dict(self) -> dict:
        return {"label": self.label, "box": list(self.box), "score": self.score}

    @classmethod
    def from_dict(cls, d: dict) -> "Detection":
        if not isinstance(d, dict) or "box" not in d:
            raise ValueError(f"a detection needs a 'box', got {d!r}")
        return cls(label=d.get("label"), box=d["box"], score=d.get("score"))


def _require_sequence(value: Any) -> tuple:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise ValueError(f"box must be a list or tuple of 4 numbers, got {value!r}")


def _require_number(value: Any, what: str) -> float:
    # bool is an int subclass; True as a coordinate is always a bug.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


class StopReason(str, Enum):
    """Why generation of a grounding answer ended."""

    CLOSED = "closed"              # the JSON answer was complete
    END_OF_TEXT = "end_of_text"    # the model ended its turn
    BUDGET = "budget"              # max_new_tokens reached: the answer is cut off
    REPETITION = "repetition"      # the model started repeating its boxes


@dataclass(frozen=True)
class GroundingAnswer:
    """What every grounding model answers: its boxes, each labelled, in the pixels of the picture it was given and
    in the order it gave them, and how its answer ended. A model that answers in words says them in ``text`` and
    counts them in ``tokens`` (kept in the run folder); one that answers in boxes alone leaves both empty."""

    detections: list[Detection]
    tokens: int = 0                # tokens generated
    budget: int = 0                # the max_new_tokens it ran under
    stop_reason: StopReason = StopReason.END_OF_TEXT
    repeats: int = 0               # boxes that repeated an earlier one of their label, as generated
    duplicates_dropped: int = 0    # repeated boxes left out of ``detections``
    text: str = ""                 # its answer in its own words
    question: str = ""             # what it was asked, in its own words

    @property
    def cut_off(self) -> bool:
        """The budget ended the answer: what was complete is read, later boxes may be missing."""
        return self.stop_reason is StopReason.BUDGET


@dataclass(frozen=True)
class GroundingRow:
    """One grounding model's facts: what the catalog, the model listing and the replicas read."""

    name: str                 # its choice name (``--grounding``, the protocol's ``GROUNDING_MODELS``)
    spec: ModelSpec           # its pinned repository, files, size and options
    tiny_folder: str          # its tiny replica's folder below the tiny set's root
    tiny_bytes: int           # its tiny replica's size
    tiny_options: Mapping[str, Any] = field(default_factory=dict)   # its tiny replica's options beside its name
    component: str = ""       # its full-size replica's component name ("": none)

    def __post_init__(self) -> None:
        check_named(self, "grounding", "grounding model")

    def tiny_spec(self, root: Path) -> ModelSpec:
        """Its tiny replica under ``root``; a model whose files are all named (``exact_files``) is checked by them."""
        named = self.spec.allow_patterns if self.spec.exact_files else ()
        return ModelSpec(role="grounding", repo_id=f"tiny/{self.tiny_folder}", local_path=Path(root) / self.tiny_folder,
                         size_bytes=self.tiny_bytes, allow_patterns=named, exact_files=self.spec.exact_files,
                         options={**self.spec.options, **self.tiny_options})

    def full_size_spec(self, root: Path) -> ModelSpec:
        """Its full-size replica under ``root``: the tiny one's folder with the real model's size and options (it
        answers by itself)."""
        return replace(self.tiny_spec(root), repo_id=f"full-size/{self.tiny_folder}", size_bytes=self.spec.size_bytes,
                       options=dict(self.spec.options))


class Find(Protocol):
    """A grounding model's search: where ``names`` are in ``picture`` (the loaded ``model``'s boxes for them)."""

    def __call__(self, model: Any, picture: Image.Image, names: list[str], *, options: GroundingOptions,
                 cancel: CancelToken, progress: ProgressFn | None = None) -> GroundingAnswer: ...


class NameObjects(Protocol):
    """A grounding model's listing: each distinct object it sees in ``picture``, a box each, labelled with a short
    name of one or two words."""

    def __call__(self, model: Any, picture: Image.Image, *, options: GroundingOptions, cancel: CancelToken,
                 progress: ProgressFn | None = None) -> GroundingAnswer: ...


@dataclass(frozen=True)
class Grounder(ModelCode):
    """One grounding model's code, as the driver calls it."""

    find: Find
    name_objects: NameObjects
