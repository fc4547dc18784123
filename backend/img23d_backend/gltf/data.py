"""A glTF file's document and binary data, bounded: the one way img23d decodes a glTF's arrays itself.

Mesh jobs hand a GLB to trimesh (``readers.meshes``); the rig keeps the file's own glTF (its materials,
UVs and nodes stay in the rigged GLB), so it reads the arrays here. The container and every URI go
through the protocol's walker (``img23d_protocol.glb_images``, which the add-on's texture guard and
``readers.glb_textures`` use too): a GLB's chunks are checked against the file's size, and a URI names
a base64 ``data:`` URI or a file in the source's own folder, never an absolute path, another scheme or
a way out of it (a text glTF naming ``/home/me/.ssh/id_rsa`` once put that key into the rigged GLB).

What is read is gathered into one binary blob, as a GLB holds it: every buffer (the GLB's binary chunk,
a ``data:`` URI, a ``.bin`` beside a glTF Separate export) at an 8-byte boundary, each taking exactly the
``byteLength`` its buffer declares, and every image stored in a file beside it (so a rigged glTF Separate
keeps its textures). ``MAX_BINARY_BYTES`` bounds the whole.

Every accessor is decoded only after its elements are known to lie inside its buffer view and the view
inside the blob (glTF 2.0 section 3.6.2: ``byteOffset + (count - 1) * stride + element size``): an
accessor counting past its buffer once read the process's memory as vertices, or crashed it.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

import numpy as np
import pygltflib
from img23d_protocol import ProtocolError
from img23d_protocol.glb_images import image_window, read_glb, uri_window
from img23d_protocol.image_headers import UnreadableImage, Window

from .document import MAX_FILE_BYTES, read_gltf_json

MAX_BINARY_BYTES = MAX_FILE_BYTES   # the buffers and images gathered, as the file itself may hold
_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
         ".ktx2": "image/ktx2"}
_ALIGN = 8   # every buffer starts where any component type is aligned


class GltfUnreadable(ValueError):
    """A glTF file img23d cannot read: the sentence says why."""


@dataclass(frozen=True)
class GltfRead:
    """A file read: its glTF with one binary blob, and every file its bytes came from (itself first)."""

    gltf: Any
    files: tuple[Path, ...]


def read_gltf(path: Path, folder: Path | None = None,
              check: Callable[[dict, str], None] = lambda document, name: None, name: str | None = None) -> GltfRead:
    """``path`` (a GLB or a text glTF) with its buffers and image files gathered into one blob; its relative
    URIs resolved from ``folder`` (default: its own), only there. ``check``: told the JSON document (plain
    lists and dicts) and ``name`` before a buffer is read or an object built of it, to refuse what it says
    from the JSON alone (a 10-million-face file: its 180 MB are never read; 420,000 nodes: pygltflib would
    build them for minutes). ``GltfUnreadable`` with one sentence, which names the file ``name`` (default:
    its own; a run folder's copy is named as the artist's file)."""
    folder = folder if folder is not None else path.parent
    name = name or path.name
    with ExitStack() as files:
        try:
            handle = files.enter_context(open(path, "rb"))
            size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            raise GltfUnreadable(f"{name} cannot be read: {exc.strerror or exc}") from exc
        try:
            if path.suffix.lower() == ".gltf":
                document, binary = _text_document(handle, size, name), None
            else:
                document, binary = read_glb(handle, size, name)
        except ProtocolError as exc:  # the walker's Refused: its message is the sentence
            raise GltfUnreadable(exc.message) from exc
        check(document, name)
        blob = bytearray()
        sources = [path]
        try:
            _gather_buffers(document, binary, folder, files, blob, sources, name)
            _gather_images(document, binary, folder, files, blob, sources, name)
        except OSError as exc:
            raise GltfUnreadable(f"{name} cannot be read: {exc.strerror or exc}") from exc
    gltf = _gltf_of(document, name)
    gltf.set_binary_blob(bytes(blob))
    return GltfRead(gltf, tuple(sources))


def _gltf_of(document: dict, name: str) -> Any:
    try:
        return pygltflib.GLTF2.gltf_from_json(json.dumps(document))
    except Exception as exc:  # dataclasses_json raises many kinds for a field of the wrong type: all "not glTF"
        raise GltfUnreadable(f"{name} is not a glTF document img23d can read ({type(exc).__name__})") from exc


def _text_document(handle: Any, size: int, name: str) -> dict:
    """The text glTF's JSON, the file bounded first; the parse is ``document.read_gltf_json`` (``Refused``, which
    ``read_gltf`` turns into ``GltfUnreadable`` as it does the GLB walker's)."""
    if size > MAX_BINARY_BYTES:
        raise GltfUnreadable(f"{name} is {size:,} bytes, more than the {MAX_BINARY_BYTES:,} img23d reads")
    return read_gltf_json(handle, name)


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _list(document: dict, key: str, name: str) -> list:
    items = document.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise GltfUnreadable(f"{name} is not read: its {key} are not a list of glTF objects")
    return items


def _gather_buffers(document: dict, binary: Window | None, folder: Path, files: ExitStack, blob: bytearray,
                    sources: list[Path], name: str) -> None:
    """Every buffer's bytes appended to ``blob``; the buffer views moved onto the one buffer they make."""
    starts = []
    for index, buffer in enumerate(_list(document, "buffers", name)):
        length = _whole(buffer.get("byteLength"))
        if length is None:
            raise GltfUnreadable(f"{name} is not read: buffer {index} has no byteLength")
        window = _buffer_window(buffer, index, binary, folder, files, sources, name)
        if window.length < length:
            raise GltfUnreadable(f"{name} is not read: buffer {index} holds {window.length:,} bytes, fewer than "
                                 f"the {length:,} its byteLength says")
        _pad(blob)
        _check_total(len(blob) + length, name)
        starts.append(len(blob))
        blob.extend(_read(window, length, name))
    for index, view in enumerate(_list(document, "bufferViews", name)):
        buffer, offset, length = _whole(view.get("buffer")), _whole(view.get("byteOffset", 0)), \
            _whole(view.get("byteLength"))
        if buffer is None or buffer >= len(starts) or offset is None or length is None:
            raise GltfUnreadable(f"{name} is not read: buffer view {index} names no buffer, offset and length")
        declared = document["buffers"][buffer]["byteLength"]
        if offset + length > declared:
            raise GltfUnreadable(f"{name} is not read: buffer view {index} runs past the end of buffer {buffer} "
                                 f"({offset + length:,} of {declared:,} bytes)")
        view.update(buffer=0, byteOffset=starts[buffer] + offset)
    document["buffers"] = [{"byteLength": len(blob)}] if starts else []


def _buffer_window(buffer: dict, index: int, binary: Window | None, folder: Path, files: ExitStack,
                   sources: list[Path], name: str) -> Window:
    uri = buffer.get("uri")
    if uri is None:
        if index == 0 and binary is not None:
            return binary
        raise GltfUnreadable(f"{name} is not read: buffer {index} has no URI and no binary chunk holds it")
    try:
        window = uri_window(uri, folder, files)
    except UnreadableImage as exc:  # a phrase: "its URI ... names a file outside the GLB's folder"
        raise GltfUnreadable(f"{name} is not read: buffer {index}: {exc}") from exc
    _note_file(uri, folder, sources)
    return window


def _gather_images(document: dict, binary: Window | None, folder: Path, files: ExitStack, blob: bytearray,
                   sources: list[Path], name: str) -> None:
    """Each image stored in a file beside the glTF appended to ``blob`` as a buffer view of its own."""
    for index, image in enumerate(_list(document, "images", name)):
        uri = image.get("uri")
        if not isinstance(uri, str) or uri.startswith("data:"):
            continue  # in a buffer view already, or in the document: it travels as it is
        try:
            window = image_window(document, image, binary, folder, files)
        except UnreadableImage as exc:
            raise GltfUnreadable(f"{name} is not read: image {index}: {exc}") from exc
        _note_file(uri, folder, sources)
        _pad(blob)
        _check_total(len(blob) + window.length, name)
        views = document.setdefault("bufferViews", [])
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": window.length})
        blob.extend(_read(window, window.length, name))
        image.pop("uri")
        image["bufferView"] = len(views) - 1
        image.setdefault("mimeType", _MIME.get(Path(uri).suffix.lower(), "image/png"))
        document["buffers"] = [{"byteLength": len(blob)}]


def _note_file(uri: str, folder: Path, sources: list[Path]) -> None:
    if not uri.startswith("data:"):
        sources.append(folder / unquote(uri))


def _read(window: Window, count: int, name: str) -> bytes:
    try:
        return window.read(0, count) if count else b""
    except UnreadableImage:
        raise GltfUnreadable(f"{name} is not read: one of its buffers ends early") from None


def _pad(blob: bytearray) -> None:
    blob.extend(b"\0" * (-len(blob) % _ALIGN))


def _check_total(total: int, name: str) -> None:
    if total > MAX_BINARY_BYTES:
        raise GltfUnreadable(f"{name} is not read: its buffers and images hold more than the "
                             f"{MAX_BINARY_BYTES:,} bytes img23d reads")


def accessor(gltf: Any, index: object, max_count: int | None = None) -> np.ndarray:
    """Accessor ``index``'s elements as a (count, width) array, read only from inside its buffer view;
    ``GltfUnreadable`` with one sentence for one that is not there, is sparse, of an unknown kind,
    counts past its buffer view, or has more than ``max_count`` elements."""
    acc = item(gltf.accessors, index, "accessor")
    if acc.sparse is not None:
        raise GltfUnreadable("the file stores a mesh in a sparse accessor, which img23d does not read")
    if acc.componentType not in _COMPONENTS or acc.type not in _WIDTH:
        raise GltfUnreadable(f"accessor {index} is of a kind glTF does not define "
                             f"({acc.componentType!r}, {acc.type!r})")
    count = _whole(acc.count)
    if count is None:
        raise GltfUnreadable(f"accessor {index} has no count")
    if max_count is not None and count > max_count:
        raise GltfUnreadable(f"accessor {index} has {count:,} elements, more than the {max_count:,} img23d reads")
    dtype = np.dtype(_COMPONENTS[acc.componentType]).newbyteorder("<")
    width = _WIDTH[acc.type]
    element = dtype.itemsize * width
    if acc.bufferView is None:  # all zeros (glTF 2.0 section 3.6.2.4): bounded by max_count alone
        return np.zeros((count, width), dtype=dtype)
    view = item(gltf.bufferViews, acc.bufferView, "buffer view")
    blob = gltf.binary_blob() or b""
    view_start, view_length, offset = _whole(view.byteOffset or 0), _whole(view.byteLength), \
        _whole(acc.byteOffset or 0)
    if view_start is None or view_length is None or offset is None or view_start + view_length > len(blob):
        raise GltfUnreadable(f"buffer view {acc.bufferView} runs past the end of the file's binary data")
    stride = view.byteStride or element
    if _whole(stride) is None or stride < element:
        raise GltfUnreadable(f"buffer view {acc.bufferView}'s byteStride {stride!r} is shorter than the "
                             f"{element}-byte elements of accessor {index}")
    needed = offset + (count - 1) * stride + element if count else 0
    if needed > view_length:
        raise GltfUnreadable(f"accessor {index} counts {count:,} elements, {needed:,} bytes, past the "
                             f"{view_length:,} bytes of its buffer view")
    if count == 0:
        return np.zeros((0, width), dtype=dtype)
    start = view_start + offset
    rows = np.lib.stride_tricks.as_strided(np.frombuffer(blob, dtype=np.uint8, count=needed - offset, offset=start),
                                           shape=(count, element), strides=(stride, 1), writeable=False)
    values = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
    return _dequantized(values) if acc.normalized and dtype.kind in "iu" else values


def _dequantized(values: np.ndarray) -> np.ndarray:
    """A normalized integer accessor's values as the numbers they stand for (glTF 2.0 section 3.11: c / (2^b - 1)
    unsigned, max(c / (2^(b-1) - 1), -1) signed): KHR_mesh_quantization's positions, which gltfpack and
    gltf-transform write, were read as raw integers (a 1.7 m figure's bones 14,724 m out)."""
    largest = float(np.iinfo(values.dtype).max)
    return np.maximum(values.astype(np.float32) / np.float32(largest), np.float32(-1.0))


def item(items: list, index: object, what: str) -> Any:
    """``items[index]`` of one of the document's lists, or one sentence saying the file names a ``what`` it
    does not have."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items or []):
        raise GltfUnreadable(f"the file names {what} {index!r}, which it does not have")
    return items[index]
