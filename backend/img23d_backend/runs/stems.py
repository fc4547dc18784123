"""File-name stems for target names: what a run's files are called (``runs.RunFolder`` uses it,
and the uploads of a remote backend). Naming only: nothing here writes."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}
_MAX_STEM = 60
# The most UTF-8 bytes a stem may take: 4-byte letters (CJK Extension B, Adlam) made a 60-letter stem 247 bytes,
# and with ".splat.ply" or "-2-v2.glb" past the 255 bytes a file name may have, the whole job failed. 120 bytes
# leave room for every suffix a run adds, and for the parts' "<stem>_<part>" names, each part's stem bounded too.
_MAX_STEM_BYTES = 120


def safe_stem(name: str) -> str:
    """A file-name stem for a target name: no separators, no dots in front, portable everywhere.

    Readable names stay readable ("red barrel" -> "red_barrel"); a name that lost anything but
    spaces, or was shortened, gets a short hash so that two such names never share a stem.
    (Within one run ``RunFolder.unique_stem`` also separates "red barrel" from "red_barrel".)
    """
    normal = unicodedata.normalize("NFKC", name).strip()
    stem = re.sub(r"[^\w\-]+", "_", normal, flags=re.UNICODE).strip("._-")
    stem = re.sub(r"_+", "_", stem)
    if not stem:
        stem = "target"
    if stem.casefold() in _WINDOWS_RESERVED:
        stem = f"{stem}_"
    # Compared with the name as the protocol sees it (NFC, trimmed), not after NFKC: NFKC folds
    # different names together ("\uff21" and "A", "\ufb01" and "fi"), and those need the hash.
    # Spaces becoming underscores loses nothing a reader needs, so it alone adds no hash.
    changed = stem != re.sub(r"\s+", "_", unicodedata.normalize("NFC", name).strip())
    if len(stem) > _MAX_STEM or len(stem.encode("utf-8")) > _MAX_STEM_BYTES:
        stem = stem[:_MAX_STEM]
        while len(stem.encode("utf-8")) > _MAX_STEM_BYTES:
            stem = stem[:-1]
        stem = stem.rstrip("._-")
        changed = True
    if changed:
        # surrogatepass: a file name that is not UTF-8 arrives with lone surrogates (Python's surrogateescape),
        # and encoding it strictly ended every command that names a run after it in a traceback.
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:6]
        stem = f"{stem}-{digest}"
    return stem


def variation_stem(stem: str, variation: int) -> str:
    """``stem`` for variation ``variation`` (from 1) of what it names: the first keeps it, the others end in ``-v2``,
    ``-v3``: a name's candidates and Make Picture's pictures alike."""
    return stem if variation <= 1 else f"{stem}-v{variation}"

