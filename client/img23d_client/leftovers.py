"""What killed writes left in a run folder here: img23d's temporary files (``.tmp-*``), removed.

Every file img23d writes into a run folder is written under a temporary name beside its place
(``img23d_protocol.RUN_TEMP_PREFIX``) and renamed only once it is whole. A Blender killed
mid-transfer leaves that temporary file behind, hidden, in a run folder that may have no manifest
yet (the manifest travels last), where no import, listing or backend start ever looked. So the
next look at that folder removes them: Import Run from Host's listing of the host's runs (their
local mirrors), the next fetch of a run into the mirror, and Import Run of the folder.

Only files img23d made, by their prefix (the manifest's reserve only where asked: a closed run),
links not followed, and never one that may still be written: not one a receiver of this process
is writing (``disk_ledger.LEDGER``), nor one changed in the last ``settled`` seconds (another
Blender, or a backend on this computer, may be writing it now; a transfer writes a chunk every
few milliseconds). No bpy here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import img23d_protocol as protocol

from .disk_ledger import LEDGER

STALE_SECONDS = 120.0   # a temporary file untouched this long belongs to no live write


def remove_leftovers(root: Path, *, reserve: bool = False, settled: float = STALE_SECONDS) -> list[Path]:
    """Delete img23d's temporary files anywhere in the run folder ``root`` (and its manifest's
    reserve with ``reserve``), but those being written: by a receiver of this process, or changed
    within ``settled`` seconds (0 for a closed run, where nothing writes). Returns what went."""
    root = Path(root)
    if not root.is_dir():
        return []
    live: set[tuple[int, int]] = set()
    for path in LEDGER.live_temporaries():
        try:
            info = os.stat(path)
        except OSError:
            continue  # finished or removed since it was listed: not live any more
        live.add((info.st_dev, info.st_ino))
    now = time.time()
    removed: list[Path] = []
    for folder, files in protocol.own_folders(root):  # a run inside it (regenerated/) is judged as its own
        for name in files:
            if not (name.startswith(protocol.RUN_TEMP_PREFIX) or (reserve and name == protocol.RUN_RESERVE_NAME)):
                continue
            path = folder / name
            try:
                info = path.lstat()
                if (info.st_dev, info.st_ino) in live or now - info.st_mtime < settled:
                    continue
                path.unlink()
            except OSError:
                continue  # gone meanwhile, or not ours to remove here: nothing depends on it, the next look tries again
            removed.append(path)
    return removed
