"""The pictures a batch was given: single pictures, folders of pictures, and JSONL or CSV lists.

A list names one picture per line with, optionally, its own names (else the command's
``--targets`` apply). JSONL: ``{"image": "a.png", "names": ["house", "chimney"]}`` (``names``
may also be one comma-separated text, or ``"auto"``); a line ends at ``"\n"`` only. CSV (read by
the csv module, a quoted cell may span lines): the picture in the first column, then names, one
per column, comma-separated in one quoted column or one per line of it; a first row whose first
cell is ``image`` is a header. A relative picture path is relative to the list's folder.

Every problem is one sentence naming the file and line (``ProtocolError(bad_request)``); the
pictures' contents are not read here (a corrupt picture fails alone, when its job loads it),
only hashed: the hash, with the options, tells a picture already done from a new one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from img23d_protocol import ErrorCode, ProtocolError, names_from_text

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
LIST_SUFFIXES = (".jsonl", ".csv")
AUTO = "auto"
Names = list[str] | str | None   # None: the command's names; "auto": suggested per picture
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class BatchItem:
    """One picture to make objects from."""

    image: Path              # absolute
    names: Names = None
    where: str = ""          # "list.csv line 3", for messages


def read_inputs(inputs: list[str]) -> list[BatchItem]:
    """Every picture the inputs name, in order. Raises ``ProtocolError(bad_request)``."""
    if not inputs:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "give at least one picture, folder of pictures or JSONL/CSV list")
    items: list[BatchItem] = []
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            pictures = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES)
            if not pictures:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"the folder {path} has no pictures "
                                                           f"({', '.join(PICTURE_SUFFIXES)})")
            items.extend(BatchItem(p.resolve()) for p in pictures)
        elif not path.exists():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no such picture, folder or list: {path}")
        elif path.suffix.lower() in LIST_SUFFIXES:
            items.extend(_read_list(path))
        elif path.suffix.lower() in PICTURE_SUFFIXES:
            items.append(BatchItem(path.resolve()))
        else:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path} is neither a picture ({', '.join(PICTURE_SUFFIXES)}) "
                                                       "nor a .jsonl or .csv list of pictures")
    return items


def _read_list(path: Path) -> Iterator[BatchItem]:
    try:
        # No newline translation: each format ends its lines by its own rules (csv: a quoted cell may
        # hold a line break; JSON Lines: "\n" only). utf-8-sig: a spreadsheet's "CSV UTF-8" starts
        # with a byte-order mark, which would otherwise become part of the first column's name.
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} cannot be read: {exc}") from exc
    rows = _jsonl_rows(path, text) if path.suffix.lower() == ".jsonl" else _csv_rows(path, text)
    found = False
    for where, image, names in rows:
        found = True
        picture = Path(image).expanduser()
        picture = (picture if picture.is_absolute() else path.parent / picture).resolve()
        if not picture.is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: no picture at {picture}")
        yield BatchItem(picture, names, where)
    if not found:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} names no pictures")


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[str, str, Names]]:
    # A line ends at "\n" alone ("\r\n" leaves a "\r", which JSON reads as white space): str.splitlines()
    # also ended it at U+2028, U+2029, U+0085 and others, which a JSON text may hold raw in a string.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} is not valid JSON ({exc.args[0]})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("image"), str) or not row["image"].strip():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f'{where} needs an "image" (the picture\'s path, as text)')
        names = row.get("names")
        if names is not None and not isinstance(names, (str, list)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f'{where}: "names" must be a list of names or one text')
        yield where, row["image"], _names(where, names if not isinstance(names, list) else
                                          ",".join(str(n) for n in names))


def _csv_rows(path: Path, text: str) -> Iterator[tuple[str, str, Names]]:
    # The csv module reads the lines itself: a quoted cell may hold a line break (a spreadsheet's
    # Alt+Enter), which str.splitlines() cut out, joining the names on either side into one.
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []   # each row with the line it starts on
    ended = 0
    try:
        for row in reader:
            rows.append((ended + 1, row))
            ended = reader.line_num
    except csv.Error as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path.name} is not a readable CSV file (line {reader.line_num}: "
                                                   f"{exc})") from exc
    for number, row in rows:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        where = f"{path.name} line {number}"
        if number == 1 and cells[0].casefold() in ("image", "picture"):
            continue  # the header
        if not cells[0]:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} has no picture in its first column")
        # Names one per column, comma-separated in one, or one per line of a cell.
        rest = [name for cell in cells[1:] for name in _LINE_BREAK.split(cell) if name.strip()]
        yield where, cells[0], _names(where, ",".join(rest) if rest else None)


def _names(where: str, text: str | None) -> Names:
    if text is None:
        return None
    if text.strip().casefold() == AUTO:
        return AUTO
    try:
        return names_from_text(text, f"{where}'s names")
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: {exc.message}") from exc


def picture_hash(path: Path) -> str:
    """The picture's sha256 (read in chunks: a batch never holds its pictures in memory)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the picture {path} cannot be read: {exc.strerror}") from exc
    return digest.hexdigest()
