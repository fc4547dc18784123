"""The names an artist asks for: split, normalised, checked."""

from __future__ import annotations

import unicodedata
from typing import Any

from .errors import ErrorCode, ProtocolError
from .limits import MAX_TARGET_CHARS, MAX_TARGETS
# Characters a name may not hold though they are not control characters: each is invisible or breaks
# a line where the name is printed (a terminal, a log, a list of runs), so "door" and "door" + U+200B
# would be two names that look one, and U+202E turns the rest of a printed line around. Format
# characters (Cf) that join or shape script or emoji stay: U+200C and U+200D (Persian needs the first,
# emoji sequences the second), and the tag characters of flags such as Scotland's.
KEPT_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"}) | frozenset(map(chr, range(0xE0020, 0xE0080)))


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


def has_word(name: str) -> bool:
    """Whether ``name`` holds a letter or a digit: the grounding's matching reads a name by its words (runs of
    letters and digits, the rest separating them), so a name without one ("---", "!!") matches no answer."""
    return any(ch.isalnum() for ch in name)


def validate_targets(targets: Any, most: int = MAX_TARGETS, *, looked_for: bool = True) -> list[str]:
    """Check a request's target list (``most``: at most so many names); an empty list means "the whole image as
    one object". ``looked_for``: the names are looked for on a picture, so each needs a letter or a digit
    (``has_word``); False for a name that only names files (a Re-texture's object, named after its mesh file)."""
    if not isinstance(targets, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "targets must be a list of names")
    if len(targets) > most:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"at most {most} names per job, got {len(targets)}")
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
        hidden = next((ch for ch in name if hidden_character(ch)), None)
        if hidden is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} contains an invisible or line-breaking "
                                                       f"character ({_described(hidden)}): type it again without it")
        if looked_for and not has_word(name):   # it was asked for, matched nothing, and the job ran on
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} ({name!r}) has no letter or digit, so it "
                                                       "can never be found: name the object in words")
        folded = name.casefold()
        if folded in seen:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"name {name!r} is asked for twice; ask once (All Instances in the add-on, "
                                "--all-instances on the command line, gives every instance of it)")
        seen[folded] = name
        cleaned.append(name)
    return cleaned


def by_name_items(value: Any, *, form: str, too_many: str, nameless: str) -> list[tuple[str, Any]]:
    """A request's ``{name: ...}`` (boxes, views) as (name, value) pairs, each name NFC-normalised and
    stripped; None is none. ``bad_request`` with ``form`` when it is no object, ``too_many`` (with
    ``{count}`` for how many came) past ``MAX_TARGETS`` names, ``nameless`` for an empty name, and for
    one name given twice ignoring case (the job looks names up so: one of the two was silently dropped)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, form)
    if len(value) > MAX_TARGETS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, too_many.format(count=len(value)))
    pairs: list[tuple[str, Any]] = []
    for name, item in value.items():
        name = unicodedata.normalize("NFC", name).strip() if isinstance(name, str) else name
        if not isinstance(name, str) or not name:
            raise ProtocolError(ErrorCode.BAD_REQUEST, nameless)
        twice = next((given for given, _ in pairs if given.casefold() == name.casefold()), None)
        if twice is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{twice!r} and {name!r} are one name given twice (names "
                                                       "ignore case): give it once")
        pairs.append((name, item))
    return pairs


def hidden_character(ch: str) -> bool:
    """Whether ``ch`` is invisible or breaks a line in a name (a format character but the joiners and tags an emoji
    needs, a line or paragraph separator); control characters are refused on their own."""
    category = unicodedata.category(ch)
    return category in ("Zl", "Zp") or (category == "Cf" and ch not in KEPT_FORMAT_CHARACTERS)


def _described(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}"


# A run's objects, named by their stems (a GLB's name without ".glb"): at most every instance of
# every name of a job, each with every variation of it.
MAX_KEYS = 1024
MAX_KEY_CHARS = 80   # a stem is at most 60 characters, plus its hash and instance or variation


def validate_keys(keys: Any) -> list[str]:
    """Check the stems of a run's objects that a request names: plain file-name stems, since the
    backend opens ``<stem>``'s files inside the run folder with them (no separators, no dots first)."""
    if not isinstance(keys, list) or not keys:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "keys must be a non-empty list of a run's object stems")
    if len(keys) > MAX_KEYS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"at most {MAX_KEYS} objects per job, got {len(keys)}")
    for index, key in enumerate(keys):
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"key {index + 1} is not a stem of 1 to {MAX_KEY_CHARS} "
                                                       "characters")
        if key.startswith(".") or any(ch in key for ch in "/\\:") or \
                any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in key):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"key {key!r} is not an object's stem in a run")
    if len({key.casefold() for key in keys}) != len(keys):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "an object is named twice in keys")
    return list(keys)
