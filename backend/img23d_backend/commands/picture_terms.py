"""What the command line says before a prompt's job starts, or a batch with a prompt's line (issue 76 item 4): the
model that makes the picture, its licence, and what it has still to download.

A picture made from text is made by the image editor (``editors.text_picture.ROLE``: FLUX.2 [klein] 4B, Apache-2.0;
its 9B variants are non-commercial and not offered). The artist learns its terms and, when its files are not all in
the cache, the download the job begins with, before the job's first progress line; the picture's expected time
follows as that job's own line (``jobs.kinds.prompt_picture.make_input``), as every long step's does.
"""

from __future__ import annotations

from typing import Any

from ..models import cache
from ..models.registry import GB

# The image editor's role (editors.text_picture.ROLE), named here: the command line starts without the editors' code
# (tests/test_model_rooms_boundary.py), which a prompt's job loads when it makes the picture.
ROLE = "editor"


def picture_terms(manager: Any, offline: bool = False) -> str:
    """One sentence naming the picture's model, its licence and (not cached) its download's size; ``offline``
    (--offline, or downloads switched off): no download is promised, since none can happen (the job's own sentence
    says the model is missing)."""
    spec = manager.spec(ROLE)
    stated = spec.licence
    licence = stated.licence.name if stated is not None else "licence unknown"
    said = f"the picture is made from the prompt by {spec.display} ({licence})"
    entry = cache.describe(spec, cache.scan_cache() if spec.local_path is None else None, [])
    if entry.state == "cached" or offline:
        return said
    here = f", {entry.size_bytes / GB:.1f} GB of it here" if entry.state == "partial" else ""
    return f"{said}: about {spec.size_bytes / GB:.1f} GB to download first{here}"
