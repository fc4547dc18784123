"""One grounding model as the rest of the backend reaches it: its row (``GroundingRow``: facts, no code) and its
code (``Grounder``), and what every one answers (``GroundingAnswer``) under what options (``GroundingOptions``).
Light: the catalog reads the rows on every start.

A grounding model reads a picture and names and answers with boxes, as text the room reads as it comes
(``answer_scan``, ``lenient_json``, ``detections``) and matches to the names (``matching``). Every one is reached
through the same driver (``driver``: the manager's loader, ``ground``, the boxes drawn) and brings what differs:

* its row (``<model>/model.py``'s ``ROWS``, by choice name): its pinned spec, whose options name it and bound its
  answer and the picture's pixels; its tiny replica's folder, size and options; its full-size component's name;
* its code (``<model>/grounder.py``'s ``GROUNDERS``): its loader, its ask (the picture and the names in, its raw
  answer out, stopped where it ends) and its random-weight replica.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from ..env.room_table import check_named
from ..models.specs import ModelCode, ModelReplica, ModelSpec
from .answer_scan import StopReason

# The cap on an answer's tokens (a spec's option ``max_new_tokens``): room for a dozen boxes of each of 32 names
# (the protocol's MAX_TARGETS) of up to 40 bytes each. Each job's budget comes from its names.
ANSWER_TOKEN_CAP = 40_960
# The picture's most pixels where a spec names none (its option ``max_pixels``): 1,280 visual tokens of 32 x 32.
DEFAULT_MAX_PIXELS = 1280 * 32 * 32


@dataclass(frozen=True)
class GroundingOptions:
    """A grounding model's options from its ``ModelSpec.options``."""

    max_new_tokens: int = ANSWER_TOKEN_CAP   # the cap; the budget per job comes from the names
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_spec(cls, options: dict[str, Any]) -> "GroundingOptions":
        return cls(max_new_tokens=int(options.get("max_new_tokens", cls.max_new_tokens)),
                   max_pixels=int(options.get("max_pixels", cls.max_pixels)))


@dataclass(frozen=True)
class GroundingAnswer:
    text: str
    tokens: int               # tokens generated
    budget: int               # the max_new_tokens it ran under
    stop_reason: StopReason = StopReason.END_OF_TEXT
    repeats: int = 0          # boxes that repeated an earlier one of their label, as generated

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
        """Its tiny replica under ``root``."""
        return ModelSpec(role="grounding", repo_id=f"tiny/{self.tiny_folder}", local_path=Path(root) / self.tiny_folder,
                         size_bytes=self.tiny_bytes, options={**self.spec.options, **self.tiny_options})

    def full_size_spec(self, root: Path) -> ModelSpec:
        """Its full-size replica under ``root``: the tiny one's folder with the real model's size and options (it
        answers by itself)."""
        return replace(self.tiny_spec(root), repo_id=f"full-size/{self.tiny_folder}", size_bytes=self.spec.size_bytes,
                       options=dict(self.spec.options))


# (the loaded model, the picture, the names; options, cancel, progress, prompt: keywords) -> its answer
Ask = Callable[..., GroundingAnswer]


@dataclass(frozen=True)
class Grounder(ModelCode):
    """One grounding model's code, as the driver calls it."""

    ask: Ask
