"""A GLB's JSON document and the bytes of each of its images, read as glTF 2.0's binary format says,
with nothing decoded: the walker the add-on's texture guard (``img23d_client.texture_guard``) reads
images' sizes through (``image_headers``).

A 12-byte header, the JSON chunk, then the binary chunk; each of the document's ``images`` is read
through its ``bufferView`` (in the binary chunk, or in a buffer its ``uri`` names), a base64
``data:`` URI, or a relative ``uri`` naming a file in the GLB's own folder (never outside it, never
another scheme). Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import struct
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .errors import ErrorCode, ProtocolError
from .image_headers import UnreadableImage, Window

MAX_JSON_BYTES = 64 * 1024 ** 2          # a GLB's JSON chunk: a mesh's is a few kilobytes
_GLB_MAGIC, _JSON_CHUNK, _BIN_CHUNK = b"glTF", 0x4E4F534A, 0x004E4942


class Refused(ProtocolError):
    """A file refused before import; ``message`` is the one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.BAD_REQUEST, message)


def read_glb(handle: Any, file_size: int, name: str) -> tuple[dict, Window | None]:
    """The GLB's JSON document, and its binary chunk (None when it has none)."""
    header = handle.read(20)
    if len(header) < 12 or header[:4] != _GLB_MAGIC:
        raise Refused(f"{name} is not a binary glTF (GLB) file, so it is not imported")
    _magic, version, length = struct.unpack("<4sII", header[:12])
    if version != 2:
        raise Refused(f"{name} is glTF version {version}, not 2, so it is not imported")
    if len(header) < 20 or length > file_size:
        raise Refused(f"{name} is cut short: its header says {length:,} bytes, the file has {file_size:,}")
    json_length, kind = struct.unpack("<II", header[12:20])
    if kind != _JSON_CHUNK or 20 + json_length > length:
        raise Refused(f"{name} is not imported: its first chunk is not a whole JSON chunk")
    if json_length > MAX_JSON_BYTES:
        raise Refused(f"{name} is not imported: its JSON chunk is {json_length:,} bytes, more than the "
                      f"{MAX_JSON_BYTES:,} a GLB may have")
    try:
        document = json.loads(handle.read(json_length).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(f"{name} is not imported: its JSON chunk is not valid JSON") from None
    if not isinstance(document, dict):
        raise Refused(f"{name} is not imported: its JSON chunk is not a glTF document")
    start = 20 + json_length
    if start + 8 > length:
        return document, None
    handle.seek(start)
    chunk_length, kind = struct.unpack("<II", handle.read(8))
    if kind != _BIN_CHUNK:
        return document, None
    if start + 8 + chunk_length > length:
        raise Refused(f"{name} is cut short: its binary chunk says {chunk_length:,} bytes, fewer are there")
    return document, Window(handle, start + 8, chunk_length)


def _index(value: object, items: object, what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or not isinstance(items, list) \
            or not 0 <= value < len(items):
        raise UnreadableImage(f"it names a {what} that is not there")
    return items[value]


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnreadableImage(f"its {what} is not a whole number of bytes")
    return value


def image_window(document: dict, image: object, binary: Window | None, folder: Path, files: ExitStack) -> Window:
    """The bytes of one of the document's images, as a window no read may leave."""
    if not isinstance(image, dict):
        raise UnreadableImage("it is not a glTF image")
    if "bufferView" in image:
        view = _index(image["bufferView"], document.get("bufferViews"), "buffer view")
        if not isinstance(view, dict):
            raise UnreadableImage("its buffer view is not a glTF buffer view")
        buffer = _index(view.get("buffer"), document.get("buffers"), "buffer")
        if not isinstance(buffer, dict):
            raise UnreadableImage("its buffer is not a glTF buffer")
        if "uri" in buffer:
            base = uri_window(buffer["uri"], folder, files)
        elif view.get("buffer") == 0 and binary is not None:
            base = binary
        else:
            raise UnreadableImage("its buffer has no bytes")
        offset = _whole(view.get("byteOffset", 0), "buffer view's offset")
        length = _whole(view.get("byteLength"), "buffer view's length")
        if offset + length > base.length:
            raise UnreadableImage("its buffer view runs past the end of its buffer")
        return Window(base.handle, base.start + offset, length)
    if "uri" in image:
        return uri_window(image["uri"], folder, files)
    raise UnreadableImage("it names neither a buffer view nor a URI")


def uri_window(uri: object, folder: Path, files: ExitStack) -> Window:
    """The bytes a glTF URI names: a base64 ``data:`` URI, or a file in ``folder`` (only there)."""
    if not isinstance(uri, str) or not uri:
        raise UnreadableImage("its URI is not a string")
    if uri.startswith("data:"):
        header, _, payload = uri.partition(",")
        if not header.endswith(";base64"):
            raise UnreadableImage("its data URI is not base64")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise UnreadableImage("its data URI is not valid base64") from None
        return Window(io.BytesIO(data), 0, len(data))
    relative = unquote(uri)
    # A scheme (http:, file:), a drive (C:), an absolute path or a way up: not a file beside the GLB.
    if ":" in relative or relative.startswith(("/", "\\")) or "\x00" in relative:
        raise UnreadableImage(f"its URI {uri[:80]!r} is not a file beside the GLB")
    path = folder / relative
    base = folder.resolve()
    if base not in path.resolve().parents:
        raise UnreadableImage(f"its URI {uri[:80]!r} names a file outside the GLB's folder")
    if not path.is_file():
        raise UnreadableImage(f"its URI {uri[:80]!r} names a file that is not there")
    handle = files.enter_context(open(path, "rb"))
    return Window(handle, 0, os.fstat(handle.fileno()).st_size)
