"""(1.22) Names made in parts too: "lamp (shade, arm, base), table, chair ()" asks for a lamp, a table and a
chair, the lamp also in the three named parts and the chair in the parts the parts model finds itself.

``split_parted_names`` reads what an artist typed (the Names field, ``generate --targets``); a Generate
request carries the result as ``parts`` (name -> part names), checked on arrival by ``validate_parts``.
"""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, ProtocolError
from .limits import MAX_DRAWN_PARTS, MAX_SPLIT_PARTS, MAX_TARGETS
from .names import by_name_items, names_from_text, split_names, validate_targets


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def split_parted_names(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The names typed and, for each written ``name (part, part)``, its parts (``name ()``: none named, the
    model finds them). Unbalanced or nested brackets, or brackets with no name before them, are one sentence."""
    names: list[str] = []
    parts: dict[str, list[str]] = {}
    # ``closed``: the name whose bracket has just closed; only a comma may follow it (a flag of this name, not
    # a look-up in ``parts``, so that "lamp (shade), lamp post" is two names)
    current, inside, depth, closed = "", "", 0, ""
    for char in text + ",":
        if char == "(":
            if depth:
                raise _bad("brackets inside brackets: write a name's parts once, e.g. lamp (shade, arm, base)")
            if closed:
                raise _bad(f"{closed!r} has two brackets of parts: write its parts in one, e.g. "
                           f"{closed} (shade, arm)")
            if not current.strip():
                raise _bad("parts in brackets need the name they belong to before them, e.g. lamp (shade, arm)")
            depth = 1
        elif char == ")":
            if not depth:
                raise _bad("a closing bracket without an opening one: write a name's parts as lamp (shade, arm)")
            depth = 0
            closed = current.strip()
            parts[closed] = split_names(inside)
            inside = ""
        elif depth:
            inside += char
        elif char == ",":
            if current.strip():
                names.append(current.strip())
            current, closed = "", ""
        elif closed and not char.isspace():
            raise _bad(f"{closed!r} has text after its parts' bracket: put a comma after the bracket")
        else:
            current += char
    if depth:
        raise _bad("a bracket is not closed: write a name's parts as lamp (shade, arm, base)")
    return names, parts


def parted_names_from_text(text: str, field_name: str = "the names") -> tuple[list[str], dict[str, list[str]]]:
    """The checked names in what was typed, and the parts of those written with them ("lamp (shade, arm)")."""
    if "(" not in text and ")" not in text:
        return names_from_text(text, field_name), {}
    typed, parts = split_parted_names(text)
    return validate_targets(typed), validate_parts(parts)


def names_without_parts(text: str, field_name: str, doing: str) -> list[str]:
    """The checked names in what was typed for a job that makes whole objects (``doing``: "a batch"): a name's
    parts in brackets are one sentence, where they were split at the bracket's comma into names such as
    "barrel (hoop" and "stave)"."""
    if "(" in text or ")" in text:
        raise _bad(f"{doing} makes whole objects, not a name's parts in brackets ({field_name}): write the names "
                   "alone (generate and the add-on's Names make names in parts)")
    return names_from_text(text, field_name)


def validate_parts(value: Any) -> dict[str, list[str]]:
    """A request's ``{name: [part names]}``: each list checked as names are (none twice), at most
    ``MAX_DRAWN_PARTS``; an empty list asks the model to find the parts. ``bad_request`` otherwise."""
    checked: dict[str, list[str]] = {}
    for name, names in by_name_items(value, form="parts must be an object of name: [part names]",
                                     too_many=f"at most {MAX_TARGETS} names in parts per job, got {{count}}",
                                     nameless="parts need the name they are of"):
        if not isinstance(names, list):
            raise _bad(f"the parts of {name!r} must be a list of names")
        if len(names) > MAX_DRAWN_PARTS:
            raise _bad(f"{len(names)} parts were named for {name!r}; the parts model makes at most "
                       f"{MAX_DRAWN_PARTS}")
        try:
            checked[name] = validate_targets(names, MAX_DRAWN_PARTS)   # not a job's 32 names: said as 32
        except ProtocolError as exc:
            raise _bad(f"the parts of {name!r}: {exc.message}") from exc
    return checked


DRAWN_PARTS_WHY = "the parts model makes at most that many"   # why a drawn request's max_parts bounds its names


def part_names(text: str, limit: int = MAX_SPLIT_PARTS, why: str = "split a part again for finer parts") -> list[str]:
    """The part names in ``text`` (commas between them) a split or a parts model is asked for, checked before
    anything is sent or loaded, by the add-on, the command line and the backend alike: at least one, at most
    ``limit`` (a split's ``MAX_SPLIT_PARTS``; ``why``, the reason said past it), none twice; each as any target
    name (``validate_targets``). A wrong list is one sentence."""
    names = split_names(text)
    if not names:
        raise _bad('give the parts\' names, e.g. --names "shade, arm, base": one part is made per name')
    if len(names) > limit:
        raise _bad(f"{len(names)} part names given; at most {limit} ({why})")
    seen: set[str] = set()
    for name in names:
        folded = name.strip().casefold()
        if folded in seen:
            raise _bad(f"the part {name.strip()!r} is named twice: name each part once")
        seen.add(folded)
    return validate_targets(names)


def check_parts(parts: dict[str, list[str]], names: list[str]) -> None:
    """Each name in ``parts`` is one of the job's ``names`` (ignoring case); else one sentence."""
    known = {name.casefold() for name in names}
    for name in parts:
        if name.casefold() not in known:
            raise _bad(f"{name!r} is to be made in parts but is not one of the names asked for")


__all__ = ["DRAWN_PARTS_WHY", "check_parts", "names_without_parts", "part_names", "parted_names_from_text", "split_parted_names",
           "validate_parts"]
