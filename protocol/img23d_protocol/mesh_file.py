"""The artist's mesh file: the one file a Re-texture or Retopologize request names (``mesh``), written by
the add-on (``retexture_mesh.py``) or by the backend's own reading of a GLB, OBJ or PLY
(``readers/meshes.py``), and read by the jobs (``uv/retexture.py``, ``jobs/retopo.py``).

It is a ``.npz``, NumPy's zip of ``.npy`` arrays, which NumPy reads without pickles. Its arrays
(``MESH_ARRAYS``): ``positions`` (V, 3) floats in object space, Blender's axes; ``triangles`` (T, 3)
the vertex indices of Blender's loop triangles; ``triangle_loops`` (T, 3) the loop (face corner) of
each triangle corner; and, when it has them, ``loop_uvs`` (L, 2) the active UV map, ``base_color`` and
``metallic_roughness`` (H, W, 3 or 4) bytes with rows from the top, the images its material shows, and
``vertex_colors`` (V, 3 or 4) bytes; with several materials, ``material_names`` (M,) strings and
``triangle_materials`` (T,) each triangle's index among them.

``write_mesh_file`` writes one from a ``MeshFile`` (its arrays are whatever has ``dtype.str``,
``shape`` and ``tobytes()``: NumPy's, without this package importing NumPy). ``read_mesh_file`` reads
one as another process wrote it, trusting nothing: every array's type and shape is checked from its
header, and its size against the limits, before a byte of its data is read; a file that is not a zip,
an array of Python objects, a missing array, a wrong type or shape is one sentence (``ProtocolError``,
``bad_request``) that names it. Arrays a newer add-on adds are left unread. What the values mean
(indices in range, finite positions) is the jobs' to check, with NumPy. Standard library only.
"""

from __future__ import annotations

import ast
import math
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ErrorCode, ProtocolError
from .limits import MAX_TRIANGLES

# No array may hold more values than this (loop UVs: two per corner of MAX_TRIANGLES), unless ``limits`` says.
MAX_VALUES = 6 * MAX_TRIANGLES
_MAGIC = b"\x93NUMPY"
_DESCR = re.compile(r"^[<>|=]?([fiubU])(\d{1,4})$")   # numbers and text; never "O" (objects: pickles)
_MAX_HEADER = 4096


@dataclass(frozen=True)
class ArraySpec:
    """What one array of the mesh file must be: its kinds (NumPy's letters), its shape's last sizes."""

    kinds: str                      # "fiu" numbers, "iu" whole numbers, "u" with ``byte``: bytes, "U" text
    columns: tuple[int, ...]        # allowed sizes of its last axis (none for a list, ``ndim`` 1)
    ndim: int = 2
    required: bool = False
    byte: bool = False              # uint8 alone


MESH_ARRAYS: dict[str, ArraySpec] = {
    "positions": ArraySpec("fiu", (3,), required=True),
    "triangles": ArraySpec("iu", (3,), required=True),
    "triangle_loops": ArraySpec("iu", (3,), required=True),
    "loop_uvs": ArraySpec("fiu", (2,)),
    "base_color": ArraySpec("u", (3, 4), ndim=3, byte=True),
    "metallic_roughness": ArraySpec("u", (3, 4), ndim=3, byte=True),
    "vertex_colors": ArraySpec("u", (3, 4), byte=True),
    "material_names": ArraySpec("U", (), ndim=1),
    "triangle_materials": ArraySpec("iu", (), ndim=1),
}


@dataclass(frozen=True)
class StoredArray:
    """One array as the file holds it: NumPy's type string, its shape, its raw bytes (C order unless
    ``fortran``). ``backend.readers`` turns it into a NumPy array without copying."""

    descr: str
    shape: tuple[int, ...]
    data: bytes
    fortran: bool = False

    @property
    def type_name(self) -> str:
        """The type as NumPy names it: float32, int64, uint8..."""
        kind, size = _DESCR.match(self.descr).groups()  # type: ignore[union-attr]  # checked when read
        if kind == "U":
            return f"str{int(size) * 32}"
        return {"f": "float", "i": "int", "u": "uint", "b": "bool"}[kind] + ("" if kind == "b" else str(int(size) * 8))

    @property
    def itemsize(self) -> int:
        kind, size = _DESCR.match(self.descr).groups()  # type: ignore[union-attr]  # checked when read
        return int(size) * (4 if kind == "U" else 1)   # NumPy's text is UTF-32: four bytes a character


@dataclass(frozen=True)
class MeshFile:
    """The arrays of one mesh file (NumPy arrays when written; ``StoredArray`` when read)."""

    positions: Any
    triangles: Any
    triangle_loops: Any
    loop_uvs: Any = None
    base_color: Any = None
    metallic_roughness: Any = None
    vertex_colors: Any = None
    material_names: Any = None
    triangle_materials: Any = None

    def arrays(self) -> dict[str, Any]:
        """Its arrays by name, those it has."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def _refuse(message: str, detail: str | None = None) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, message, detail)


def _header(array: Any) -> bytes:
    """The ``.npy`` header of ``array`` (format 1.0: a dict padded with spaces to a multiple of 64)."""
    shape = tuple(int(n) for n in array.shape)
    text = f"{{'descr': {array.dtype.str!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    padding = 64 - (len(_MAGIC) + 2 + 2 + len(text) + 1) % 64
    body = (text + " " * (padding % 64) + "\n").encode("latin1")
    return _MAGIC + b"\x01\x00" + struct.pack("<H", len(body)) + body


def write_mesh_file(path: Path, mesh: MeshFile) -> Path:
    """Write ``mesh`` as a ``.npz`` at ``path`` (a temporary file renamed into place: never half a file)."""
    path = Path(path)
    temporary = path.with_name(f".tmp-{path.name}")
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in mesh.arrays().items():
                if name not in MESH_ARRAYS:
                    raise ValueError(f"{name} is not an array of a mesh file")
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    member.write(_header(array))
                    member.write(array.tobytes(order="C"))
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def _read_header(member: Any, name: str, where: str) -> tuple[str, tuple[int, ...], bool]:
    if member.read(len(_MAGIC)) != _MAGIC:
        raise _refuse(f"the mesh file {where} cannot be read: its {name!r} is not a NumPy array")
    major = member.read(2)[:1]
    size_format = "<H" if major == b"\x01" else "<I"
    raw = member.read(struct.calcsize(size_format))
    length = struct.unpack(size_format, raw)[0] if len(raw) == struct.calcsize(size_format) else _MAX_HEADER + 1
    if major not in (b"\x01", b"\x02", b"\x03") or length > _MAX_HEADER:
        raise _refuse(f"the mesh file {where} cannot be read: its {name!r} has a header this img23d cannot read")
    try:
        header = ast.literal_eval(member.read(length).decode("utf-8" if major == b"\x03" else "latin1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(header["shape"])
    except (ValueError, SyntaxError, KeyError, TypeError, UnicodeDecodeError, MemoryError) as exc:
        raise _refuse(f"the mesh file {where} cannot be read: its {name!r} has a damaged header", str(exc)) from exc
    if not isinstance(descr, str) or not _DESCR.match(descr) or not isinstance(fortran, bool) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        # An object array would be unpickled: never read (as NumPy's allow_pickle=False refuses it).
        raise _refuse(f"the mesh file {where} cannot be read: its {name!r} is not an array of plain numbers or text",
                      f"descr {descr!r}")
    return descr, shape, fortran


def _check(name: str, array: StoredArray, spec: ArraySpec) -> None:
    kind, size = _DESCR.match(array.descr).groups()  # type: ignore[union-attr]
    if kind not in spec.kinds or (spec.byte and size != "1"):
        wanted = {"fiu": "numbers", "iu": "whole numbers", "u": "uint8 bytes", "U": "text"}[spec.kinds]
        raise _refuse(f"mesh {name} must be {wanted}, not {array.type_name}")
    shape = array.shape
    if len(shape) != spec.ndim or (spec.columns and shape[-1] not in spec.columns) or (
            spec.ndim == 3 and min(shape[:2]) < 1):
        columns = " or ".join(str(n) for n in spec.columns)
        form = f"(H, W, {columns})" if spec.ndim == 3 else f"(N, {columns})" if columns else "(N,)"
        raise _refuse(f"the mesh file's {name} must be {form}, not {shape}")


def read_mesh_file(path: Path, limits: dict[str, int] | None = None) -> MeshFile:
    """The mesh file at ``path``, its arrays checked (``MESH_ARRAYS``) and read as ``StoredArray``s.
    ``limits``: larger numbers of values than ``MAX_VALUES`` for the arrays it names (a retopology's images)."""
    path = Path(path)
    where = path.name
    found: dict[str, StoredArray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                if name not in MESH_ARRAYS or name in found:
                    continue  # a newer add-on's array, or a second copy: never read
                with archive.open(info) as member:
                    descr, shape, fortran = _read_header(member, name, where)
                    values = math.prod(shape)
                    most = (limits or {}).get(name, MAX_VALUES)
                    if values > most:
                        raise _refuse(f"the mesh file's {name!r} holds {values:,} values; at most {most:,}")
                    expected = values * StoredArray(descr, shape, b"").itemsize
                    data = member.read(expected + 1)
                if len(data) != expected:
                    raise _refuse(f"the mesh file {where} cannot be read: its {name!r} holds {len(data):,} bytes "
                                  f"where its header says {expected:,}")
                found[name] = StoredArray(descr, shape, data, fortran)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise _refuse(f"the mesh file {where} cannot be read", str(exc)) from exc
    for name, spec in MESH_ARRAYS.items():
        if spec.required and name not in found:
            raise _refuse(f"the mesh file has no {name!r}")
        if name in found:
            _check(name, found[name], spec)
    if found["triangles"].shape != found["triangle_loops"].shape:
        raise _refuse("mesh triangles and their loops must both be (T, 3)")
    colours = found.get("vertex_colors")
    if colours is not None and colours.shape[0] != found["positions"].shape[0]:
        raise _refuse(f"the mesh file's vertex_colors must be (V, 3 or 4) uint8, one per position, not "
                      f"{colours.type_name} {colours.shape}")
    materials = found.get("triangle_materials")
    if materials is not None and materials.shape != found["triangles"].shape[:1]:
        raise _refuse("the mesh file's triangle_materials must give each triangle the index of one of its "
                      "material_names")
    return MeshFile(**found)
