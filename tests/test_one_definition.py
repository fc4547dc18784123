"""One place for each thing that must agree everywhere, read from the source as ``test_boundaries`` reads imports:

- every GLB img23d writes is written by ``gltf/writer.py`` (which says in its ``asset`` what made it: issue 91),
  so no other module of the backend, the protocol, the add-on or the client exports, packs or saves one.
"""

from __future__ import annotations

import re
from pathlib import Path

from testdata import REPO

SOURCES = [REPO / "backend" / "img23d_backend", REPO / "protocol" / "img23d_protocol", REPO / "blender_img23d",
           REPO / "client"]
GLB_WRITER = REPO / "backend" / "img23d_backend" / "gltf" / "writer.py"
# How Python writes a GLB: trimesh's exporter told the type, pygltflib's binary save, Blender's glTF exporter,
# or the 12-byte header packed by hand.
WRITES_A_GLB = re.compile(r"\.export\((?:[^()]|\([^()]*\))*file_type\s*=\s*[\"']glb[\"']|\.save_binary\("
                          r"|export_scene\.gltf\("
                          r"|pack\([^)]*(b[\"']glTF[\"']|_GLB_MAGIC|0x46546C67)")


def _sources() -> list[Path]:
    return [path for folder in SOURCES for path in sorted(folder.rglob("*.py"))]


def test_only_the_gltf_writer_writes_a_glb() -> None:
    writers = [f"{path.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}"
               for path in _sources() if path != GLB_WRITER
               for text in [path.read_text(encoding="utf-8")] for match in WRITES_A_GLB.finditer(text)]
    assert writers == [], "GLBs written outside backend/img23d_backend/gltf/writer.py (write them through it):\n" + \
        "\n".join(writers)
    assert WRITES_A_GLB.search(GLB_WRITER.read_text(encoding="utf-8")), "the scan no longer sees the writer's own call"
