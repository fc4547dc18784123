"""Textured GLBs and image headers made byte by byte, for the texture bomb's tests (issue 46, item 1).

A GLB of one textured triangle whose image is whatever bytes a test gives: a real small PNG (an
honest texture Blender imports), or only the header of a huge one (a texture bomb that stays a few
hundred bytes on disk). Standard library only: the Blender 4.2 test environment has no PIL.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A real, decodable RGB PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(row * height)) + _chunk(b"IEND", b""))


def png_header(width: int, height: int, bits: int = 8) -> bytes:
    """The signature and IHDR of a ``width`` x ``height`` PNG of ``bits`` a sample, then a few bytes
    of pixel data that never decode: only the header is real, so a bomb of any size stays small."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)))


def jpeg_header(width: int, height: int, marker: int = 0xC0, app_bytes: int = 0, precision: int = 8) -> bytes:
    """A JPEG's start, an APP0 segment (``app_bytes`` of payload more than JFIF's), and a frame header."""
    app = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * app_bytes
    frame = struct.pack(">BHHB", precision, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return (b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app) + 2) + app
            + bytes([0xFF, marker]) + struct.pack(">H", len(frame) + 2) + frame + b"\xff\xda\x00\x02")


def webp_header(width: int, height: int, kind: str = "VP8X") -> bytes:
    """A WebP RIFF header and its first chunk's size fields (``VP8X``, ``VP8L`` or ``VP8 ``)."""
    if kind == "VP8X":
        body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" \
            + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    elif kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14)
        body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little")
    else:
        body = b"VP8 " + struct.pack("<I", 10) + b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def glb_bytes(image: bytes | None = None, uri: str | None = None, mime: str = "image/png",
              document: dict | None = None) -> bytes:
    """A binary glTF 2.0 file of one textured triangle: its image's bytes embedded through a buffer
    view (``image``), or named by ``uri``; ``document`` replaces keys of the JSON."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    uvs = struct.pack("<6f", 0, 0, 1, 0, 0, 1)
    blobs = [positions, uvs] + ([image + b"\0" * (-len(image) % 4)] if image is not None else [])
    offsets = [sum(len(b) for b in blobs[:i]) for i in range(len(blobs))]
    views = [{"buffer": 0, "byteOffset": o, "byteLength": len(b)} for o, b in zip(offsets, blobs)]
    if image is not None:
        views[2]["byteLength"] = len(image)
    gltf: dict = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
        "textures": [{"source": 0}],
        "images": [{"bufferView": 2, "mimeType": mime} if image is not None else {"uri": uri}],
        "buffers": [{"byteLength": sum(len(b) for b in blobs)}], "bufferViews": views,
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]},
                      {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"}]}
    gltf.update(document or {})
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    data = b"".join(blobs)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(data), 0x004E4942) + data
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def write_glb(path: Path, image: bytes | None = None, **kwargs) -> Path:
    path.write_bytes(glb_bytes(image, **kwargs))
    return path


def write_gltf(path: Path, image: bytes) -> Path:
    """``glb_bytes``' triangle as a text glTF (``path``, a ``.gltf``): its buffer in a ``.bin`` beside it
    and its image in a ``.png`` beside it, each named by a relative URI, as exporters write them."""
    glb = glb_bytes(image=None, uri=f"{path.stem}.png")
    json_length = struct.unpack("<I", glb[12:16])[0]
    document = json.loads(glb[20:20 + json_length])
    binary = glb[20 + json_length + 8:]
    document["buffers"] = [{"byteLength": len(binary), "uri": f"{path.stem}.bin"}]
    path.with_suffix(".bin").write_bytes(binary)
    path.with_suffix(".png").write_bytes(image)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def write_obj(path: Path, image: bytes) -> Path:
    """One textured triangle as an OBJ (``path``) with its ``.mtl`` and its ``map_Kd`` image beside it."""
    path.with_suffix(".png").write_bytes(image)
    path.with_suffix(".mtl").write_text(f"newmtl paint\nKd 1 1 1\nmap_Kd {path.stem}.png\n", encoding="utf-8")
    path.write_text(f"mtllib {path.stem}.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\n"
                    "usemtl paint\nf 1/1 2/2 3/3\n", encoding="utf-8")
    return path
