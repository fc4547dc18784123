"""Suggested names: the grounding model lists the picture's distinct objects, a short name and a box each
(its ``name_objects``).

Labels that name the same thing (case, separators and simple plurals forgiven: ``matching.same_name``)
become one name; a name found more than once means several instances of it, which the artist gets
as one name with All Instances on.

No torch or numpy, so it can be imported and tested without them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from img23d_protocol import MAX_TARGET_CHARS, MAX_TARGETS, has_word
from .grounder import Detection
from .matching import same_name


@dataclass
class Suggestion:
    """One suggested name and every box the model gave it, largest first."""

    name: str
    detections: list[Detection] = field(default_factory=list)


def suggest_names(detections: list[Detection], limit: int = MAX_TARGETS) -> list[Suggestion]:
    """One suggestion per distinct label, in the order the model named them, at most ``limit``."""
    suggestions: list[Suggestion] = []
    for detection in detections:
        name = clean_name(detection.label or "")
        if not has_word(name):
            continue  # an unlabelled box suggests no name, nor one of marks alone ("---"), which no job could find
        for suggestion in suggestions:
            if same_name(suggestion.name, name):
                suggestion.detections.append(detection)
                break
        else:
            suggestions.append(Suggestion(name, [detection]))
    for suggestion in suggestions:
        suggestion.detections.sort(key=Detection.area, reverse=True)
    return suggestions[:limit]


def clean_name(label: str) -> str:
    """A label as a name the artist can keep: one line, no commas (they separate names) and no brackets (they
    name an object's parts since 1.22: "lamp (desk)" asked the parts model for a part "desk"), trimmed."""
    text = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) or ch in ",()" else ch
                   for ch in unicodedata.normalize("NFC", label))
    return " ".join(text.split())[:MAX_TARGET_CHARS].strip()
