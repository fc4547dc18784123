"""Names of the files in a run folder that are not results, and where a run's own files lie."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from .run_manifest import MANIFEST_NAME

# A write in progress (or cut short by a kill), and the room a running job keeps to close its
# manifest on a full disk. Whoever reads a run that no live job is writing (the backend's
# recovery pass, the add-on's Import Run) removes them.
RUN_TEMP_PREFIX = ".tmp-"
RUN_RESERVE_NAME = ".img23d-reserve"


def own_folders(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """Each folder of the run ``root`` (links not followed) with its files' names, as ``os.walk`` gives them,
    less the runs inside it (``regenerated/<run>/``: a folder with a manifest of its own). Such a run is judged
    by its own manifest: a Regenerate writing there while its parent run is closed lost its files to the
    parent's clean-up."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [name for name in dirs if not os.path.lexists(os.path.join(folder, name, MANIFEST_NAME))]
        yield Path(folder), files
