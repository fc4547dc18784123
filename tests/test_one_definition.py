"""One place for each thing that must agree everywhere, read from the source as ``test_boundaries`` reads imports:

- every GLB img23d writes is written by ``gltf/writer.py`` (which says in its ``asset`` what made it: issue 91),
  so no other module of the backend, the protocol, the add-on or the client exports, packs or saves one;
- the turn between Blender's axes and glTF's is written out once, in ``img23d_protocol.frame`` (the backend's
  rooms reach it through ``gltf.frame``, the add-on directly): no other module spells its matrix.
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


FRAME = REPO / "protocol" / "img23d_protocol" / "frame.py"
# The turn's last two rows, either way round ((0, 0, +-1), (0, -+1, 0)), as a matrix literal.
_ZERO, _ONE = r"\s*0(?:\.0*)?\s*", r"\s*-?\s*1(?:\.0*)?\s*"
SPELLS_THE_TURN = re.compile(rf"\[{_ZERO},{_ZERO},{_ONE}\]\s*,\s*\[{_ZERO},{_ONE},{_ZERO}\]")


def _sources() -> list[Path]:
    return [path for folder in SOURCES for path in sorted(folder.rglob("*.py"))]


def test_only_the_gltf_writer_writes_a_glb() -> None:
    writers = [f"{path.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}"
               for path in _sources() if path != GLB_WRITER
               for text in [path.read_text(encoding="utf-8")] for match in WRITES_A_GLB.finditer(text)]
    assert writers == [], "GLBs written outside backend/img23d_backend/gltf/writer.py (write them through it):\n" + \
        "\n".join(writers)
    assert WRITES_A_GLB.search(GLB_WRITER.read_text(encoding="utf-8")), "the scan no longer sees the writer's own call"


def test_only_the_protocols_frame_spells_the_turn_between_blenders_axes_and_gltfs() -> None:
    turns = [f"{path.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}"
             for path in _sources() if path != FRAME
             for text in [path.read_text(encoding="utf-8")] for match in SPELLS_THE_TURN.finditer(text)]
    assert turns == [], "the axis turn written out again (use img23d_protocol.frame's to_gltf and from_gltf):\n" + \
        "\n".join(turns)
    assert SPELLS_THE_TURN.search(FRAME.read_text(encoding="utf-8")), "the scan no longer sees the frame's own matrix"
