"""(1.22) An object Generate made in parts too: its parts' GLBs and the whole's, in the object's own frame, as
the target's record (``run_record.TargetRecord.parts``) and the job's result carry them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .result_fields import MAX_ITEMS, flag, mapping, refuse, text, whole


@dataclass
class TargetParts:
    """Each part's GLB by its name, in the order the parts were made, and every part in one GLB; paths are
    relative to the run folder. ``textured``: each part took its share of the painted whole's colour."""

    files: dict[str, str] = field(default_factory=dict)
    combined: str = ""
    model: str = ""                     # the parts model that drew them
    licence: str = ""                   # its licence's name (every part file's asset.extras names it too)
    mask: str | None = None             # the part mask used, coloured; None when the model found the parts
    textured: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"files": dict(self.files), "combined": self.combined, "model": self.model, "licence": self.licence,
                "mask": self.mask, "textured": self.textured}

    @classmethod
    def from_dict(cls, data: Any) -> "TargetParts":
        """A record from another process, each field checked (a bad one is ``bad_request``)."""
        what = "a target's parts"
        data = whole(what, data, "must be an object")
        files = mapping(data, what, "files", {})
        if len(files) > MAX_ITEMS or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise refuse(what, "files", "is not an object of part names and files")
        return cls(files=dict(files), combined=text(data, what, "combined", ""), model=text(data, what, "model", ""),
                   licence=text(data, what, "licence", ""), mask=text(data, what, "mask", None),
                   textured=flag(data, what, "textured", False))


__all__ = ["TargetParts"]
