"""A mesh file's triangles, counted from what it declares before anything is loaded, against the most a print takes.

trimesh reads a file whole, and the repair, the checks and the 3MF hold several copies of a mesh: a mesh past
``MAX_PRINT_TRIANGLES`` (the protocol's limits table, which the add-on's Print Selected checks too) is refused
from its header (a GLB's or glTF's JSON, a PLY's header, the add-on's mesh file's array header) or, for an OBJ,
from its face lines counted in one pass over the bytes (each face is one triangle at least), so that a
5-million-triangle file is one sentence in a fraction of a second. A PLY's header is
read whole, however long its comment lines, up to ``MAX_PLY_HEADER_BYTES`` (a longer one is one sentence): only its
first 64 KB were read once, and 2.2 million faces declared behind a 70 KB header were loaded unchecked.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np
from img23d_protocol import MAX_PRINT_TRIANGLES, ErrorCode, ProtocolError
from img23d_protocol.glb_images import read_glb

from ..gltf.document import node_triangles, read_gltf_json

# A PLY's header is a few hundred bytes (a scanner's comments a few kilobytes); a megabyte is no header img23d wrote.
MAX_PLY_HEADER_BYTES = 1 << 20
_PLY_END = b"end_header"
_OBJ_FACE = re.compile(rb"(?:^|\n)[ \t]*f[ \t]")
_CHUNK = 1 << 24


def check_triangle_count(path: Path) -> int | None:
    """The triangles ``path`` declares (None where its kind declares none that can be read); refuses, in one
    ``bad_request`` sentence, a file of more than ``MAX_PRINT_TRIANGLES``."""
    count = declared_triangles(path)
    if count is not None and count > MAX_PRINT_TRIANGLES:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"{path.name} has {count:,} triangles; a print takes at most {MAX_PRINT_TRIANGLES:,} "
                            "(finer than any printer shows): decimate it first (the panel's Finish, or retopo "
                            "--topology triangles)")
    return count


def declared_triangles(path: Path) -> int | None:
    suffix = path.suffix.lower()
    try:
        with open(path, "rb") as handle:
            if suffix == ".glb":
                document, _ = read_glb(handle, os.fstat(handle.fileno()).st_size, path.name)
                return node_triangles(document)
            if suffix == ".gltf":
                return node_triangles(read_gltf_json(handle, path.name))
            if suffix == ".ply":
                return _ply_faces(_ply_header(handle, path.name))
            if suffix == ".obj":
                return _obj_faces(handle)
    except OSError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path.name} cannot be read: {exc.strerror or exc}") from exc
    if suffix == ".npz":
        return _npz_triangles(path)
    return None


def _ply_header(handle: object, name: str) -> bytes:
    """The PLY's header, up to its ``end_header`` (all that was read where it has none: its reader says so);
    ``bad_request`` for one of more than ``MAX_PLY_HEADER_BYTES``."""
    header = handle.read(MAX_PLY_HEADER_BYTES + len(_PLY_END))  # type: ignore[attr-defined]
    end = header.find(_PLY_END)
    if end < 0 and len(header) > MAX_PLY_HEADER_BYTES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name}'s PLY header runs past {MAX_PLY_HEADER_BYTES // 1024 ** 2} "
                                                   "MB with no end_header, more than any mesh's header: it is not "
                                                   "read")
    return header[:end] if end >= 0 else header


def _ply_faces(header: bytes) -> int | None:
    for line in header.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == b"element" and words[1] == b"face" and words[2].isdigit():
            return int(words[2])
    return None


def _obj_faces(handle: object) -> int:
    """The OBJ's face lines (each one triangle at least), read in chunks: a chunk's last partial line is
    carried into the next."""
    count, carry = 0, b"\n"
    while chunk := handle.read(_CHUNK):  # type: ignore[attr-defined]
        data = carry + chunk
        cut = data.rfind(b"\n")
        count += len(_OBJ_FACE.findall(data[:cut + 1]))
        carry = data[cut:]
    return count + len(_OBJ_FACE.findall(carry))


def _npz_triangles(path: Path) -> int | None:
    """The add-on's mesh file's triangle count from its array header (``triangles.npy``), nothing else read."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("triangles.npy") as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                return None
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, _ = read_header(member)  # the header only
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None  # its own reader says what is wrong with it
    return int(shape[0]) if shape else None
