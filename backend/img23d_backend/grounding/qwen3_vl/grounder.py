"""Qwen3-VL's code as the grounding driver calls it: one ``Grounder`` per size, the same loader, search, listing
and replica (the 2B's layout). Qwen3-VL answers in words, boxes on a 0..1000 grid of the picture
(``detections``): each answer is read into the room's boxes in the picture's pixels here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ...env.job_control import CancelToken, ProgressFn
from ...models.specs import ModelReplica, ModelSpec
from ..grounder import Grounder, GroundingAnswer, GroundingOptions
from . import replica
from .ask import GroundingModel, QwenAnswer, ground, load_grounding
from .detections import SUGGEST_PROMPT, grounding_prompt, parse_answer


def find(model: GroundingModel, picture: Image.Image, names: list[str], *, options: GroundingOptions,
         cancel: CancelToken, progress: ProgressFn | None = None) -> GroundingAnswer:
    """Where ``names`` are in ``picture``: the model asked for every instance of each, its boxes read."""
    said = ground(model, picture, names, options=options, cancel=cancel, progress=progress)
    return _read(said, picture, grounding_prompt(names))


def name_objects(model: GroundingModel, picture: Image.Image, *, options: GroundingOptions, cancel: CancelToken,
                 progress: ProgressFn | None = None) -> GroundingAnswer:
    """Each distinct object in ``picture``: the model asked to list them with a short name and a box each."""
    said = ground(model, picture, [], options=options, cancel=cancel, progress=progress, prompt=SUGGEST_PROMPT)
    return _read(said, picture, SUGGEST_PROMPT)


def _read(said: QwenAnswer, picture: Image.Image, question: str) -> GroundingAnswer:
    """The boxes in ``said``, in ``picture``'s pixels, with how the answer ended and its words."""
    width, height = picture.size
    parsed = parse_answer(said.text, width, height)
    return GroundingAnswer(parsed.detections, tokens=said.tokens, budget=said.budget, stop_reason=said.stop_reason,
                           repeats=said.repeats, duplicates_dropped=parsed.duplicates_dropped, text=said.text,
                           question=question)


def _loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    return load_grounding


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    dims = replica.config(size)
    return replica.build(folder, dims), dims.seed


REPLICA = ModelReplica(build=_build, construct=lambda: replica.construct(replica.FULL),
                       published_params={"total": 2.1e9})  # "2B"; 1.7B text + 0.4B vision by its config

GROUNDERS: dict[str, Grounder] = {
    name: Grounder(name=name, loader=_loader, find=find, name_objects=name_objects, replica=REPLICA)
    for name in ("2b", "4b", "8b")}
