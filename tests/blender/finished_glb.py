"""Finished objects' GLBs as the backend writes them (docs/game-ready.md): triangles, quad k as
triangles 2k and 2k + 1, and the count of leading quads in the glTF mesh's extras. Written with the
standard library and numpy: the Blender 4.2 test environment has no mesh library, and the stand-in
backend (fake_backend.py) writes them too."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np


def grid(n: int, seam: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """An n x n grid of quads (each as triangles 2k, 2k + 1), then a fan of two triangles; with
    ``seam``, every second quad's second triangle has its own copies of the diagonal's vertices,
    as a glTF writer splits vertices along a UV seam. Positions, triangles, UVs, quad count."""
    side = n + 1
    xs, ys = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    positions = [tuple(p) for p in np.stack([xs.ravel(), ys.ravel(), np.zeros(side * side)], 1)]
    triangles = []
    for j in range(n):
        for i in range(n):
            a = j * side + i
            b, c, d = a + 1, a + side + 1, a + side
            triangles.append((a, b, c))
            if seam and (i + j) % 2:
                positions += [positions[a], positions[c]]
                triangles.append((len(positions) - 2, len(positions) - 1, d))
            else:
                triangles.append((a, c, d))
    apex = len(positions)
    positions += [(n + 1.0, 0.0, 0.5), (n + 1.0, 1.0, 0.5)]
    triangles += [(side - 1, apex, apex + 1), (side - 1, apex + 1, 2 * side - 1)]
    positions = np.array(positions)
    uvs = positions[:, :2] / (n + 1) + (np.arange(len(positions)) % 2)[:, None] * 0.01
    return positions, np.array(triangles), uvs, n * n


def write_glb(path: Path, positions: np.ndarray, triangles: np.ndarray, uvs: np.ndarray,
               quads: object, normals: np.ndarray | None = None) -> Path:
    """A binary glTF 2.0 file of one mesh (positions, UVs, 32-bit indices, normals if given, in
    glTF's Y-up axes as given) whose mesh ``extras`` hold ``{"img23d_quads": quads}`` (none when
    ``quads`` is None). Written here, not with trimesh: the Blender 4.2 test environment has no
    mesh library."""
    positions, uvs = np.asarray(positions, "<f4"), np.asarray(uvs, "<f4")
    indices = np.asarray(triangles, "<u4").ravel()
    blobs = [positions.tobytes(), uvs.tobytes(), indices.tobytes()]
    attributes = {"POSITION": 0, "TEXCOORD_0": 1}
    if normals is not None:
        blobs.append(np.asarray(normals, "<f4").tobytes())
        attributes["NORMAL"] = 3
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    mesh: dict = {"primitives": [{"attributes": attributes, "indices": 2}]}
    if quads is not None:
        mesh["extras"] = {"img23d_quads": quads}
    gltf = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [mesh], "buffers": [{"byteLength": int(offsets[-1])}],
            "bufferViews": [{"buffer": 0, "byteOffset": int(offset), "byteLength": len(blob)}
                            for offset, blob in zip(offsets, blobs)],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
                           "min": positions.min(0).tolist(), "max": positions.max(0).tolist()},
                          {"bufferView": 1, "componentType": 5126, "count": len(uvs), "type": "VEC2"},
                          {"bufferView": 2, "componentType": 5125, "count": len(indices), "type": "SCALAR"}]
            + [{"bufferView": 3, "componentType": 5126, "count": len(positions), "type": "VEC3"}] * (normals is not None)}
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    data = b"".join(blobs)
    data += b"\0" * (-len(data) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(data), 0x004E4942) + data
    path.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return path


def read_glb(path: Path) -> dict[str, np.ndarray]:
    """The first mesh primitive of a GLB as arrays, by attribute name ("POSITION", "NORMAL",
    "TEXCOORD_0"; "indices" as (T, 3) triangles), read with numpy: what the file itself says,
    beside what Blender made of it."""
    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20:20 + length])
    binary = data[20 + length + 8:]
    kinds = {5126: "<f4", 5125: "<u4", 5123: "<u2", 5121: "u1"}
    widths = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}

    def accessor(index: int) -> np.ndarray:
        info = gltf["accessors"][index]
        view = gltf["bufferViews"][info["bufferView"]]
        dtype, width = np.dtype(kinds[info["componentType"]]), widths[info["type"]]
        start = view.get("byteOffset", 0) + info.get("byteOffset", 0)
        stride = view.get("byteStride", dtype.itemsize * width)
        rows = np.frombuffer(binary, np.uint8, stride * (info["count"] - 1) + dtype.itemsize * width, start)
        rows = np.lib.stride_tricks.as_strided(rows, (info["count"], dtype.itemsize * width), (stride, 1))
        return rows.copy().view(dtype).reshape(info["count"], width)

    primitive = gltf["meshes"][0]["primitives"][0]
    arrays = {name: accessor(index) for name, index in primitive["attributes"].items()}
    arrays["indices"] = accessor(primitive["indices"]).reshape(-1, 3).astype(np.int64)
    return arrays
