"""(1.17) Completing what hides a target: the job's choice (``complete_hidden``), the names the artist
turned it off for, and what a target's record says of it.

With ``complete_hidden`` other than "never", a Generate asks an image editor for the whole of each
target that looks hidden ("auto": another detection stands in front of it, or its matte runs into
its box's edge) or of every target ("always"), pastes what was seen back on top and mattes the result
again. Each target's record then carries a ``Completion``: whether it was completed, why (or why
not), the completed cut-out's path in the run, or the one sentence of a completion that failed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .errors import ErrorCode, ProtocolError
from .names import validate_targets
from .result_fields import MAX_ITEMS, MAX_TEXT, flag, mapping, refuse, text, whole

COMPLETE_HIDDEN_CHOICES = ("auto", "always", "never")
COMPLETED_FOLDER = "completed"  # the run folder's completed cut-outs, beside mattes/ (the cut-outs as seen)
COMPLETION_PICTURE = "completion.png"  # Detect's preview: each target's cut-out beside its completed one


@dataclass(frozen=True)
class Completion:
    """What completion did for one target (the run manifest's record and the result's)."""

    completed: bool
    reason: str                      # why it was completed or left as seen: "covered by 'table'"
    cutout: str | None = None        # its completed cut-out, relative to the run folder
    skipped: str | None = None       # the one sentence when it was to be completed and could not be

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "Completion":
        """A record from another process, each field checked (a bad one is ``bad_request``)."""
        what = "a target's completion result"
        data = whole(what, data, "must be an object")
        return cls(completed=flag(data, what, "completed"), reason=text(data, what, "reason"),
                   cutout=text(data, what, "cutout", None), skipped=text(data, what, "skipped", None))


def completions_by_name(data: dict[str, Any], what: str) -> dict[str, list[Completion]]:
    """A Detect result's ``completion``: for each name, one ``Completion`` per box, as ``boxes`` lists
    them (an older backend's result has none: empty)."""
    value = mapping(data, what, "completion", {})
    checked: dict[str, list[Completion]] = {}
    for name, records in value.items():
        if len(name) > MAX_TEXT or not isinstance(records, list) or len(records) > MAX_ITEMS:
            raise refuse(what, "completion", "is not a list of completion records for each name")
        checked[name] = [Completion.from_dict(record) for record in records]
    return checked


def validate_completion_off(names: Any) -> list[str]:
    """The request's ``completion_off``: names, as ``targets`` are checked (an empty list is fine)."""
    if names is None:
        return []
    if not isinstance(names, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "completion_off must be a list of names")
    return validate_targets(names)


def check_completion_off(names: list[str], targets: list[str]) -> None:
    """Each name the artist turned completion off for is one of the job's names (ignoring case)."""
    known = {target.casefold() for target in targets}
    for name in names:
        if name.casefold() not in known:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"completion is turned off for {name!r}, which is not one of "
                                                       f"the names ({', '.join(targets) or 'none'})")


def turned_off(names: list[str], target: str) -> bool:
    """Whether the artist turned completion off for ``target`` (ignoring case)."""
    return target.casefold() in {name.casefold() for name in names}
