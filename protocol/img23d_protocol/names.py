"""The names an artist asks for: split, normalised, checked."""

from __future__ import annotations

import unicodedata
from typing import Any

from .errors import ErrorCode, ProtocolError

MAX_TARGETS = 32
MAX_TARGET_CHARS = 200


def split_names(text: str) -> list[str]:
    """Split the comma-separated names an artist typed; blank entries ("a,,b") are dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def names_from_text(text: str, field_name: str = "the names") -> list[str]:
    """The checked names in what an artist typed; an empty text means the whole picture, but a
    text of commas and spaces only is a mistake worth a sentence, not a silent whole picture."""
    names = split_names(text)
    if not names and text.strip():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{field_name} holds only commas and spaces, no name: "
                                                   "type names, or leave it empty for the whole picture")
    return validate_targets(names)


def validate_targets(targets: Any) -> list[str]:
    """Check a request's target list; an empty list means "the whole image as one object"."""
    if not isinstance(targets, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "targets must be a list of names")
    if len(targets) > MAX_TARGETS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"at most {MAX_TARGETS} names per job, got {len(targets)}")
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for index, name in enumerate(targets):
        if not isinstance(name, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} is not text")
        name = unicodedata.normalize("NFC", name).strip()
        if not name:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} is empty")
        if len(name) > MAX_TARGET_CHARS:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"name {index + 1} is {len(name)} characters; at most {MAX_TARGET_CHARS}")
        if any(unicodedata.category(ch) == "Cc" for ch in name):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} contains control characters")
        folded = name.casefold()
        if folded in seen:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"name {name!r} is asked for twice; ask once (keep='all' gives every instance)")
        seen[folded] = name
        cleaned.append(name)
    return cleaned
