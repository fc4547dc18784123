"""File names a peer chooses (a backend on another machine, a Ray worker): which ones this side writes.

The one checker for every name that comes from elsewhere and becomes a file here: a job's files in
the add-on's local mirror (``transfer.local_path``), and every run brought home from another
machine, by Import Run from Host or from a Ray worker (``run_import.check_run_files``). A name is refused when any
filesystem the add-on runs on cannot hold it safely, whichever machine made it:

- empty, ``.`` or ``..``, a separator (``/`` or ``\\``), a control character (NUL, newline);
- a character Windows forbids in names (``<>:"|?*``), or a trailing dot or space (Windows drops
  them, so ``a.glb.`` would become ``a.glb``);
- a Windows device name, with any extension and in any case (``CON``, ``nul.glb``, ``COM1.txt``):
  opening one writes to a device, not a file;
- over 255 bytes in UTF-8 (the name limit of ext4, APFS and NTFS alike);
- a hidden file (a leading dot): nothing a run makes is hidden, and a dot-file such as
  ``.bashrc`` or ``.git`` is exactly what a hostile peer would aim at;
- a character that changes the direction text is shown in (U+202E and the other bidirectional
  controls): ``house\u202egpj.exe`` shows as ``houseexe.jpg``. Nothing a run makes holds one (its
  stems keep letters, digits, ``_`` and ``-``).

``NameSet`` refuses a second name equal to an earlier one but for case or Unicode normalisation:
on a case-insensitive disk (Windows, macOS) or one that normalises names (APFS), both would be the
same file, and the second would silently replace the first. Standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from .errors import ErrorCode, ProtocolError

MAX_NAME_BYTES = 255
_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                      *(f"{kind}{n}" for kind in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³"))})
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def name_problem(name: object) -> str | None:
    """Why ``name`` (one path component) cannot be written here; None when it can."""
    if not isinstance(name, str) or not name:
        return "it is empty"
    if name in (".", ".."):
        return "it names a folder, not a file"
    if _FORBIDDEN.search(name):
        return 'it holds a separator, a control character or one of <>:"|?*'
    bidi = _BIDI_CONTROLS.search(name)
    if bidi:
        return (f"it holds U+{ord(bidi.group()):04X}, which changes the direction it is shown in, so it would show "
                "as another name")
    if name.endswith((".", " ")):
        return "it ends with a dot or a space"
    if name.startswith("."):
        return "it is a hidden file"
    if name.split(".")[0].rstrip(" ").upper() in _DEVICES:
        return "it is a Windows device name"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"it is over {MAX_NAME_BYTES} bytes"
    return None


def check_name(name: object) -> str:
    """``name`` when it is a safe file or folder name; ``ProtocolError(bad_request)`` saying why not."""
    problem = name_problem(name)
    if problem is not None:
        shown = repr(name)[:80] if isinstance(name, str) else type(name).__name__
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{shown} cannot name a file here: {problem}")
    return name  # type: ignore[return-value]


def check_relative(path: object) -> tuple[str, ...]:
    """The components of a relative POSIX path (``crops/house.png``), each checked."""
    if not isinstance(path, str) or not path:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "an empty path cannot name a file here")
    return tuple(check_name(part) for part in path.split("/"))


def folded(name: str) -> str:
    """The form two names share when a case-insensitive or normalising disk takes them for one."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())


class NameSet:
    """Relative paths accepted so far (one run folder's), each checked, none equal to another but
    for case or Unicode normalisation."""

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self._seen: dict[str, str] = {}
        for path in existing:
            self._seen.setdefault(folded(path), path)

    def add(self, path: str) -> str:
        """Accept ``path`` (again, if it is the very same spelling); ``ProtocolError`` otherwise."""
        check_relative(path)
        key = folded(path)
        earlier = self._seen.setdefault(key, path)
        if earlier != path:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path[:80]!r} cannot name a file here: it differs from "
                                                       f"{earlier[:80]!r} only by case or Unicode normalisation")
        return path
