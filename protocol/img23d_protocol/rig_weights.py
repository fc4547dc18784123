"""(1.22.1) A rig result's weights file (``<name>_weights.npz``: ``joints`` and ``weights``, each (V, 4)) read with
every size bounded before anything is unpacked; the add-on's ``rig_objects`` builds the scene from it. One of the
protocol's numpy modules (as ``splats``): imported by its name where it is used, never by the package.

The file comes from another process, perhaps another machine, and numpy's own ``np.load`` trusts it: it
allocates whatever shape a member's header declares, so a 5.9 MB file whose small deflated members declare
huge arrays took Blender to 6.4 GB for 40 s; a damaged zip, a ``.npy`` renamed ``.npz`` or weights stored as
strings escaped as exceptions. Here the file is taken apart as the formats say, each part checked against
what weights for the mesh's ``V`` vertices can be before the next is read:

- the file on disk: at most what a plain ``np.savez`` of (V, 4) int64 and float64 arrays takes;
- the zip's end record (read with ``struct``, before ``zipfile`` parses anything): no zip64 records, at most
  ``MAX_MEMBERS`` members in a central directory of at most ``MAX_DIRECTORY`` bytes, so ``zipfile`` never
  builds more than a handful of entries;
- each member's local sizes (the uncompressed size its header declares: never decompressed to find out),
  stored or deflated only, not encrypted;
- each ``.npy`` header (numpy's header reader, which refuses headers over 10,000 bytes): a plain integer
  (joints) or float (weights) dtype of at most 8 bytes, shape (V, 4), and exactly that many bytes after it;
- the values: joints naming bones the rig has, weights finite and between 0 and 1.

Each refusal is one phrase (``WeightsRefused``) the caller puts in its sentence.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

COLUMNS = 4                     # each vertex's four strongest bones
MAX_ITEM = 8                    # bytes of one joint or weight: int64 and float64 at most
MAX_MEMBERS = 8                 # np.savez writes two
MAX_DIRECTORY = 4096            # the central directory of two members is about 200 bytes
NPY_HEADER_ROOM = 10_000 + 16   # numpy's own bound on a header, and its magic and length
ZIP_ROOM = 64 << 10             # local headers, directory, end record and comment (at most 64 KiB)
WEIGHT_SLACK = 1e-3             # float32 weights of a vertex normalised to one may each pass 1 by rounding
_END = struct.Struct("<4s4H2LH")   # the end of central directory record
_END_SIGNATURE, _ZIP64_LOCATOR = b"PK\x05\x06", b"PK\x06\x07"
_KINDS = {"joints": ("iu", "whole numbers"), "weights": ("f", "floating-point numbers")}
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError,
               ValueError, struct.error, zlib.error)


class WeightsRefused(Exception):
    """The weights file is not weights for this mesh and rig; the message says why, as a phrase."""


@dataclass(frozen=True)
class VertexWeights:
    joints: np.ndarray   # (V, 4) int64: bone indices
    weights: np.ndarray  # (V, 4) float64


def largest_file(vertices: int) -> int:
    """The most bytes a weights file for ``vertices`` vertices can take: both arrays stored at 8 bytes a value."""
    return 2 * (vertices * COLUMNS * MAX_ITEM + NPY_HEADER_ROOM) + ZIP_ROOM


def read_weights(path: Path, vertices: int, bones: int) -> VertexWeights:
    """The joints and weights in ``path`` for a mesh of ``vertices`` vertices and a rig of ``bones`` bones;
    ``WeightsRefused`` (nothing larger than the mesh's own weights allocated) for anything else."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > largest_file(vertices):
                raise WeightsRefused(f"is {size:,} bytes, more than weights for {vertices:,} vertices can take")
            _check_directory(handle, size)
            try:
                with zipfile.ZipFile(handle) as archive:
                    joints = _array(archive, "joints", vertices)
                    weights = _array(archive, "weights", vertices)
            except _ZIP_ERRORS as exc:
                raise WeightsRefused(f"is a damaged zip archive ({exc})") from None
    except OSError as exc:
        raise WeightsRefused(f"cannot be read ({exc.strerror or exc})") from None
    if vertices and (joints.min() < 0 or joints.max() >= bones):
        raise WeightsRefused(f"names bone {int(joints.max() if joints.max() >= bones else joints.min())}; "
                             f"the rig has bones 0 to {bones - 1}")
    if not np.isfinite(weights).all():
        raise WeightsRefused("holds weights that are not numbers (NaN or infinity)")
    if vertices and (weights.min() < 0 or weights.max() > 1 + WEIGHT_SLACK):
        raise WeightsRefused(f"holds a weight of {float(weights.min() if weights.min() < 0 else weights.max()):g}; "
                             "a weight is between 0 and 1")
    return VertexWeights(joints.astype(np.int64), weights.astype(np.float64))


def _check_directory(handle: BinaryIO, size: int) -> None:
    """The zip's end record found where ``zipfile`` looks for it, and the directory it describes small."""
    if handle.read(6) == b"\x93NUMPY":
        raise WeightsRefused("is a single .npy array, not the .npz archive of joints and weights")
    tail_size = min(size, _END.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    # where zipfile looks: a record in the last 22 bytes with no comment, else the last signature in the tail
    last = tail[-_END.size:]
    at = len(tail) - _END.size if last[:4] == _END_SIGNATURE and last[-2:] == b"\0\0" else tail.rfind(_END_SIGNATURE)
    if at < 0 or at + _END.size > len(tail):
        raise WeightsRefused("is not a zip archive (a damaged file, or not an .npz)")
    _, _, _, _, members, directory, _, _ = _END.unpack_from(tail, at)
    record = size - tail_size + at
    if record >= 20:   # a zip64 locator before the record makes zipfile read that record's counts instead
        handle.seek(record - 20)
        if handle.read(4) == _ZIP64_LOCATOR:
            raise WeightsRefused("is a zip64 archive, which a weights file never needs")
    if members > MAX_MEMBERS or directory > MAX_DIRECTORY:
        raise WeightsRefused(f"lists {members:,} members in {directory:,} bytes; a weights file has two")
    handle.seek(0)


def _array(archive: zipfile.ZipFile, name: str, vertices: int) -> np.ndarray:
    """The member ``<name>.npy`` as a (vertices, 4) array of its kind, its sizes checked before it is read."""
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise WeightsRefused(f"has no {name} (it holds {', '.join(archive.namelist()) or 'nothing'})") from None
    if info.flag_bits & 0x1:
        raise WeightsRefused(f"holds its {name} encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise WeightsRefused(f"holds its {name} compressed by method {info.compress_type}, not as numpy writes it")
    most = vertices * COLUMNS * MAX_ITEM + NPY_HEADER_ROOM
    if info.file_size > most:
        raise WeightsRefused(f"declares its {name} as {info.file_size:,} bytes unpacked, more than "
                             f"{vertices:,} vertices' {name} can be ({most:,})")
    with archive.open(info) as member:
        try:
            version = npy_format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f".npy format {version[0]}.{version[1]}, where numpy writes 1.0 or 2.0")
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, fortran, dtype = read_header(member)
        except ValueError as exc:
            raise WeightsRefused(f"holds {name} that are not a numpy array ({exc})") from None
        kinds, words = _KINDS[name]
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in kinds or dtype.itemsize > MAX_ITEM:
            raise WeightsRefused(f"holds its {name} as {dtype}, not as {words}")
        if shape != (vertices, COLUMNS):
            count = shape[0] if len(shape) == 2 and shape[1] == COLUMNS else None
            raise WeightsRefused(f"holds {name} for {count:,} vertices; the mesh has {vertices:,}"
                                 if count is not None else f"holds {name} of shape {shape}, not ({vertices:,}, 4)")
        wanted = vertices * COLUMNS * dtype.itemsize
        if info.file_size - member.tell() != wanted:
            raise WeightsRefused(f"holds {info.file_size - member.tell():,} bytes of {name} where "
                                 f"({vertices:,}, 4) {dtype} takes {wanted:,}")
        data = member.read(wanted)   # at most the declared size: zipfile stops there, and checks the CRC
    if len(data) != wanted:
        raise WeightsRefused(f"ends inside its {name}")
    return np.frombuffer(data, dtype=dtype).reshape((vertices, COLUMNS), order="F" if fortran else "C")


__all__ = ["VertexWeights", "WeightsRefused", "largest_file", "read_weights"]
