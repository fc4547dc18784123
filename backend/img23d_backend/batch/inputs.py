"""The pictures a batch was given: single pictures, folders of pictures, and JSONL or CSV lists.

A list names one picture per line with, optionally, its own names (else the command's
``--targets`` apply). JSONL: ``{"image": "a.png", "names": ["house", "chimney"]}`` (``names``
may also be one comma-separated text, or ``"auto"``); a line ends at ``"\n"`` only. CSV (read by
the csv module, a quoted cell may span lines): the picture in the first column, then names, one
per column, comma-separated in one quoted column or one per line of it; a first row whose first
cell is ``image`` (or ``prompt``) is a header. A relative picture path is relative to the list's folder and must
stay inside it (``_listed_file``).

A line may give a ``prompt`` instead of a picture (issue 76): the picture is made from it as ``generate
--prompt`` makes it (the job's own path, ``jobs.kinds.prompt_picture``). JSONL: ``{"prompt": "a barrel", "names":
"barrel"}``; CSV: a header cell ``prompt`` names the column holding each row's prompt. A line with both a
picture and a prompt, or neither, or a prompt that is not one (``validate_prompt``), is that line's failure
(``BatchItem.problem``, one sentence): it fails alone and the other lines run.

Views (more pictures of a name from its left, back or right, docs/views.md): JSONL takes the
protocol's own form, ``"views": {"chair": {"back": "chair_back.jpg"}}``; CSV a column per name and
side, whose header says which (``view:chair:back``; the list then needs its header row), each
row's cell that picture's path (empty: none). A view's path is relative to the list's folder too.

A list is read within bounds (``list_file``: a regular file, its bytes and lines bounded before its rows are read).
Every problem is one sentence naming the file and line (``ProtocolError(bad_request)``); the
pictures' contents are not read here (a corrupt picture fails alone, when its job loads it),
only hashed: the hash, with the options, tells a picture already done from a new one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from img23d_protocol import (ErrorCode, ProtocolError, check_picture_or_prompt, names_without_parts, validate_prompt,
                             validate_views)

from .list_file import check_lines, read_list_bytes

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
LIST_SUFFIXES = (".jsonl", ".csv")
AUTO = "auto"
Names = list[str] | str | None   # None: the command's names; "auto": suggested per picture
Views = dict[str, dict[str, str]]  # name -> {side: picture}, as GenerateRequest.views
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
VIEW_COLUMN = "view:"              # a CSV header cell ``view:NAME:SIDE``: that column holds those views
PICTURE_COLUMNS = ("image", "picture")  # a CSV header's cell naming the pictures' column
PROMPT_COLUMN = "prompt"           # ... and the prompts' column
HEADER_FIRST = (*PICTURE_COLUMNS, PROMPT_COLUMN)  # a first row starting with one of these is the header


@dataclass(frozen=True)
class BatchItem:
    """One picture to make objects from, or the prompt its picture is made from."""

    image: Path | None       # absolute; None for a prompt's line (or a line that fails)
    names: Names = None
    where: str = ""          # "list.csv line 3", for messages
    views: Views = field(default_factory=dict)  # absolute paths, each a file; names checked by the driver
    prompt: str = ""         # the text the picture is made from (checked), "" for a picture
    problem: str = ""        # why this line fails alone (one sentence naming it), "" when it can run


@dataclass(frozen=True)
class _Row:
    """A list's line as written: its place, picture, prompt, names and views."""

    where: str
    image: str
    prompt: object
    names: Names
    views: object


def _picture_in_folder(path: Path) -> BatchItem:
    """A folder's picture; one whose name is not UTF-8 text (a Latin-1 'café', kept by Python with lone surrogates)
    fails alone in one sentence: the record, JSON, could not hold its name, and the whole batch ended in a traceback."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "backslashreplace").decode("ascii", "replace")
        return BatchItem(None, where=shown, problem=f"{shown}: its file name is not UTF-8 text (a name from another "
                                                    "system's encoding): rename it")
    return BatchItem(path.resolve())


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
            items.extend(_picture_in_folder(p) for p in pictures)
        elif not path.exists():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no such picture, folder or list: {path}")
        elif path.suffix.lower() in LIST_SUFFIXES:
            items.extend(_read_list(path))
        elif path.suffix.lower() in PICTURE_SUFFIXES:
            if not path.is_file():   # a named pipe's hash waited for a writer, a device's read for ever
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path} is not a picture file")
            items.append(BatchItem(path.resolve()))
        else:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path} is neither a picture ({', '.join(PICTURE_SUFFIXES)}) "
                                                       "nor a .jsonl or .csv list of pictures")
    return items


def _read_list(path: Path) -> Iterator[BatchItem]:
    # No newline translation: each format ends its lines by its own rules (csv: a quoted cell may
    # hold a line break; JSON Lines: "\n" only). utf-8-sig: a spreadsheet's "CSV UTF-8" starts
    # with a byte-order mark, which would otherwise become part of the first column's name.
    data = read_list_bytes(path)   # a regular file within its bounds
    # A spreadsheet's "Unicode Text" is UTF-16 with its byte-order mark; any other encoding (Windows-1252, a
    # spreadsheet's plain "CSV") was the codec's raw message.
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} is not UTF-8 text (byte {exc.start + 1:,} is "
                                                   f"not): save it as UTF-8 (a spreadsheet's \"CSV UTF-8\")") from exc
    check_lines(path, text)
    rows = _jsonl_rows(path, text) if path.suffix.lower() == ".jsonl" else _csv_rows(path, text)
    found = False
    for row in rows:
        found = True
        if row.prompt is not None:
            yield _prompt_item(row)
            continue
        if not row.image:
            yield BatchItem(None, row.names, row.where, problem=_problem(row.where, "", ""))
            continue
        picture = _listed_file(path, row.image, f"{row.where}: the picture")
        if not picture.is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{row.where}: no picture at {picture}")
        yield BatchItem(picture, row.names, row.where, _views(path, row.where, row.views))
    if not found:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} names no pictures")


def _prompt_item(row: _Row) -> BatchItem:
    """A line giving a prompt: its item, or its failure in one sentence (the protocol's, after the line's place)
    when it also gives a picture, its prompt is not one, or it gives views or "auto" (both read a picture)."""
    try:
        prompt = validate_prompt(row.prompt)
        problem = _problem(row.where, row.image, prompt)
    except ProtocolError as exc:
        prompt, problem = "", f"{row.where}: {exc.message}"
    if not problem and not prompt:
        problem = f"{row.where}: the prompt is empty: type what the picture should show"
    if not problem and row.views:
        problem = f"{row.where}: views are more pictures of a picture's names: a prompt's line takes none"
    if not problem and row.names == AUTO:
        problem = auto_for_prompt(row.where, '"auto"')
    return BatchItem(None, row.names, row.where, prompt=prompt, problem=problem)


def auto_for_prompt(where: str, said: str) -> str:
    """The sentence for a prompt's line whose names are "auto" (``said``: as the line or the command gave them)."""
    return (f"{where}: {said} reads a picture there is not yet: a prompt's line names what to make (or none: the "
            "prompt's object is one object)")


def _problem(where: str, image: str, prompt: str) -> str:
    """The protocol's sentence for a line with a picture and a prompt both, or neither (``check_picture_or_prompt``)."""
    try:
        check_picture_or_prompt(image, prompt)
    except ProtocolError as exc:
        return f"{where}: {exc.message}"
    return ""


def _listed_file(path: Path, listed: str, what: str) -> Path:
    """A path as a list gives it: relative to the list's folder unless absolute. A relative path stays
    inside that folder, as written and once its links are followed: a list handed over with its pictures
    must not reach the rest of the disk (``../secret/id_rsa``, or a link to it). ``what`` begins the
    sentence that refuses one ("list.csv line 3: the picture")."""
    picture = Path(listed).expanduser()
    if picture.is_absolute():
        return picture.resolve()
    folder = path.parent.resolve()
    written = Path(os.path.normpath(folder / picture))
    resolved = written.resolve()
    if folder not in written.parents or folder not in resolved.parents:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} {listed!r} leads out of the list's folder {folder}: "
                                                   "a relative path in a list must stay inside its folder "
                                                   "(give an absolute path for a picture elsewhere)")
    return resolved


def _views(path: Path, where: str, views: object) -> Views:
    """A line's views, checked (the protocol's sentences, after the line's place), each path a file."""
    try:
        checked = validate_views(views)
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: {exc.message}") from exc
    found: Views = {}
    for name, sides in checked.items():
        for side, listed in sides.items():
            picture = _listed_file(path, listed, f"{where}: the {side} view of {name!r}")
            if not picture.is_file():
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: the {side} view of {name!r}: no picture at "
                                                           f"{picture}")
            found.setdefault(name, {})[side] = str(picture)
    return found


def _jsonl_rows(path: Path, text: str) -> Iterator[_Row]:
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
        if not isinstance(row, dict) or not isinstance(row.get("image", ""), str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f'{where} needs an "image" (the picture\'s path, as text) '
                                                       'or a "prompt"')
        names = row.get("names")
        if names is not None and not isinstance(names, (str, list)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f'{where}: "names" must be a list of names or one text')
        if isinstance(names, list):   # each item one name: null and 3 became "None" and "3", "bed, double" two
            odd = [n for n in names if not isinstance(n, str) or "," in n]
            if odd:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f'{where}: "names" holds {json.dumps(odd[0])}: each item '
                                                           "must be one name, as text without a comma")
            names = ",".join(names)
        image, prompt = row.get("image", "").strip(), row.get("prompt")
        if image and isinstance(prompt, str) and not prompt.strip():
            prompt = None   # a blank prompt beside a picture is none, as a blank cell of a CSV's prompt column
        yield _Row(where, image, prompt, _names(where, names), row.get("views"))


def _csv_rows(path: Path, text: str) -> Iterator[_Row]:
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
    view_columns: dict[int, tuple[str, str]] = {}  # column -> (name, side), from the header
    image_column, prompt_column = 0, None          # without a header: the picture first, no prompts
    first = True   # the first row with a cell: the header may follow blank lines (it was read as a picture)
    for number, row in rows:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        where = f"{path.name} line {number}"
        header, first = first and cells[0].casefold() in HEADER_FIRST, False
        if header:
            view_columns = _view_columns(where, cells)
            image_column = next((c for c, cell in enumerate(cells) if cell.casefold() in PICTURE_COLUMNS), None)
            prompt_column = next((c for c, cell in enumerate(cells) if cell.casefold() == PROMPT_COLUMN), None)
            continue  # the header
        image = _cell(cells, image_column)
        if not image and prompt_column is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} has no picture in its first column")
        views: dict[str, dict[str, str]] = {}
        for column, (name, side) in view_columns.items():
            if column < len(cells) and cells[column]:
                views.setdefault(name, {})[side] = cells[column]
        # Names one per column, comma-separated in one, or one per line of a cell.
        taken = {*view_columns, image_column, prompt_column}
        rest = [name for column, cell in enumerate(cells) if column not in taken
                for name in _LINE_BREAK.split(cell) if name.strip()]
        # A prompt's cell as written (a blank one is no prompt: the line gives a picture or fails for neither).
        prompt = row[prompt_column] if prompt_column is not None and _cell(cells, prompt_column) else None
        yield _Row(where, image, prompt, _names(where, ",".join(rest) if rest else None), views)


def _cell(cells: list[str], column: int | None) -> str:
    return cells[column] if column is not None and column < len(cells) else ""


def _view_columns(where: str, header: list[str]) -> dict[int, tuple[str, str]]:
    """The header's ``view:NAME:SIDE`` columns; a malformed one is one sentence."""
    columns: dict[int, tuple[str, str]] = {}
    for column, cell in enumerate(header):
        if not cell.casefold().startswith(VIEW_COLUMN):
            continue
        name, colon, side = cell[len(VIEW_COLUMN):].rpartition(":")
        if not colon or not name.strip() or not side.strip():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: the column {cell!r} must be named "
                                                       "view:NAME:SIDE, e.g. view:chair:back")
        if (name.strip().casefold(), side.strip().casefold()) in {(n.casefold(), s) for n, s in columns.values()}:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: two columns hold the {side.strip()} view of "
                                                       f"{name.strip()!r}: keep one")
        columns[column] = (name.strip(), side.strip().casefold())
    return columns


def _names(where: str, text: str | None) -> Names:
    if text is None:
        return None
    if text.strip().casefold() == AUTO:
        return AUTO
    try:
        return names_without_parts(text, "its names", "a batch")
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: {exc.message}") from exc


def prompt_hash(prompt: str) -> str:
    """A prompt's key in the record, as a picture's sha256 is (its UTF-8 bytes'): the same text is the same work."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


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
