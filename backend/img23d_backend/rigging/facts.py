"""A rigger's model as the model list sees it: its row of facts, no code (``RiggerRow``), as the other rooms' rows
are, so that ``models`` and ``models download`` name it without importing numpy, torch or its networks (the command
line starts light: tests/test_model_rooms_boundary.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..models.specs import ModelSpec


@dataclass(frozen=True)
class RiggerRow:
    """A model rigger's facts (its folder's ``facts.ROW``): its spec on the hub and its tiny replica's."""

    name: str            # its rigger's --weights choice name (``table.RIGGER_MODULES``)
    spec: ModelSpec      # the model on the hub, pinned
    tiny_folder: str     # its tiny replica's folder under the tiny models' folder (written on the first rig)
    tiny_bytes: int      # the tiny replica's size

    def tiny_spec(self, root: Path) -> ModelSpec:
        """The tiny replica's spec under ``root``, whether or not its files are written yet."""
        return ModelSpec(role=self.spec.role, repo_id=f"tiny/{self.tiny_folder}",
                         local_path=Path(root) / self.tiny_folder, allow_patterns=self.spec.allow_patterns,
                         exact_files=True, size_bytes=self.tiny_bytes, options={"replica": "tiny"})
