"""Grounding, whichever model grounds: the call a job makes (``ground``: the picture and the names in, the
model's raw answer out), the manager's loader for the grounding role (``grounding_loader``: the spec's model's,
``table.grounder_of``, what it loads held with its code), and what a job does with the answer: read it
(``parse_answer``), match its boxes to the names (``match_targets``) and draw them (``draw_matches``)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from ..env.job_control import CancelToken, ProgressFn
from ..env.room_table import Held, held_loader
from ..models.specs import ModelSpec
from .answer_scan import StopReason
from .detections import Detection, parse_answer, parse_detections
from .grounder import Grounder, GroundingAnswer, GroundingOptions
from .matching import TargetMatch, match_targets, one_name_twice
from .table import grounder_of

__all__ = ["Detection", "TargetMatch", "GroundingOptions", "GroundingAnswer", "StopReason", "grounding_loader",
           "ground", "parse_answer", "parse_detections", "match_targets", "one_name_twice", "draw_matches", "PALETTE"]


def grounding_loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    """The manager's loader for the grounding role: the spec's model's, what it loads held with its code."""
    return held_loader(grounder_of(spec), spec)


def ground(grounder: Held[Grounder], image: Image.Image, targets: list[str], *, options: GroundingOptions,
           cancel: CancelToken, progress: ProgressFn | None = None, prompt: str | None = None) -> GroundingAnswer:
    """Ask the loaded model where ``targets`` are (or ``prompt``, a question of its own); its raw answer, stopped
    where it ends."""
    return grounder.code.ask(grounder.model, image, targets, options=options, cancel=cancel, progress=progress,
                             prompt=prompt)


PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40)]


def draw_matches(image: Image.Image, matches: list[TargetMatch]) -> Image.Image:
    """The picture with each name's boxes and label drawn on it, one colour per name."""
    from PIL import ImageDraw

    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 300))
    for index, match in enumerate(matches):
        colour = PALETTE[index % len(PALETTE)]
        for number, detection in enumerate(match.detections, start=1):
            x0, y0, x1, y1 = detection.box
            draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
            label = match.target if len(match.detections) == 1 else f"{match.target} {number}"
            text_box = draw.textbbox((x0, y0), label)
            draw.rectangle((x0, y0, text_box[2] + 4, text_box[3] + 2), fill=colour)
            draw.text((x0 + 2, y0), label, fill=(255, 255, 255))
    return canvas
