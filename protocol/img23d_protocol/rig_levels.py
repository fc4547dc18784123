"""(1.24) What a rig request names beside its mesh, as the command line's ``rig`` takes it: other levels of
detail of the same object (``also``: each rigged with the same skeleton, the weights carried to it), and a
file whose first skin's joints are the skeleton to bind (``skeleton_file``: a GLB or glTF, names kept).
Checked on arrival for type and count; whether each file is there and readable the backend says."""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, ProtocolError

# Levels of detail are a handful (LOD0 to LOD3 in most engines); each is one more mesh read and weighted.
MAX_LEVELS = 8


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def validate_levels(value: Any) -> list[str]:
    """A rig request's ``also``: paths of other levels of detail, at most ``MAX_LEVELS``, none empty."""
    if not isinstance(value, list) or not all(isinstance(path, str) for path in value):
        raise _bad("also must be a list of mesh files")
    if len(value) > MAX_LEVELS:
        raise _bad(f"also names {len(value)} meshes; at most {MAX_LEVELS} levels of detail are rigged at once")
    if any(not path.strip() for path in value):
        raise _bad("also names an empty path: give each level of detail's mesh file")
    return list(value)


def check_one_skeleton(bones: list[Any], skeleton_file: str) -> None:
    """Refuse a request that gives the skeleton twice, as bones and as a file: one would be dropped unsaid."""
    if bones and skeleton_file:
        raise _bad("the skeleton was given twice, as bones and as a file: send one of them")


__all__ = ["MAX_LEVELS", "check_one_skeleton", "validate_levels"]
