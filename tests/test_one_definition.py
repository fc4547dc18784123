"""One place for each thing that must agree everywhere, read from the source as ``test_boundaries`` reads imports:

- every GLB img23d writes is written by ``gltf/writer.py`` (which says in its ``asset`` what made it: issue 91),
  so no other module of the backend, the protocol, the add-on or the client exports, packs or saves one;
- the turn between Blender's axes and glTF's is written out once, in ``img23d_protocol.frame`` (the backend's
  rooms reach it through ``gltf.frame``, the add-on directly): no other module spells its matrix;
- each limit on what a job is asked for (names, prompt, pictures, triangles, bones, parts) is defined once, in
  ``img23d_protocol.limits``, which the add-on, the command line and the backend read (issue 91: the add-on
  took 32 names for a split, whose backend refuses past 16; the rig's reader once bound 1,000 bones against
  the protocol's 512).
"""

from __future__ import annotations

import ast
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


LIMITS = REPO / "protocol" / "img23d_protocol" / "limits.py"
# Names the same limits had before they came together, each a second definition if it came back.
RETIRED = {"MAX_FACES": "MAX_TRIANGLES or MAX_SPLIT_TRIANGLES", "MAX_PARTS": "MAX_SPLIT_PARTS",
           "MAX_PARTS_PER_OBJECT": "MAX_DRAWN_PARTS"}


def _assigned(tree: ast.AST) -> list[tuple[str, int]]:
    """Every name an assignment in ``tree`` binds (module, class and function level alike), with its line."""
    names = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        names += [(target.id, node.lineno) for target in targets if isinstance(target, ast.Name)]
    return names


def _sources() -> list[Path]:
    return [path for folder in SOURCES for path in sorted(folder.rglob("*.py"))]


def _found(pattern: re.Pattern[str], owner: Path) -> list[str]:
    """Every place outside ``owner`` where ``pattern`` matches, as ``path:line``."""
    return [f"{path.relative_to(REPO)}:{text[:match.start()].count(chr(10)) + 1}"
            for path in _sources() if path != owner
            for text in [path.read_text(encoding="utf-8")] for match in pattern.finditer(text)]


def test_only_the_gltf_writer_writes_a_glb() -> None:
    writers = _found(WRITES_A_GLB, GLB_WRITER)
    assert writers == [], "GLBs written outside backend/img23d_backend/gltf/writer.py (write them through it):\n" + \
        "\n".join(writers)
    assert WRITES_A_GLB.search(GLB_WRITER.read_text(encoding="utf-8")), "the scan no longer sees the writer's own call"


def test_only_the_protocols_frame_spells_the_turn_between_blenders_axes_and_gltfs() -> None:
    turns = _found(SPELLS_THE_TURN, FRAME)
    assert turns == [], "the axis turn written out again (use img23d_protocol.frame's to_gltf and from_gltf):\n" + \
        "\n".join(turns)
    assert SPELLS_THE_TURN.search(FRAME.read_text(encoding="utf-8")), "the scan no longer sees the frame's own matrix"


def test_each_limit_is_defined_once_in_the_protocols_limits_table() -> None:
    limits = {name for name, _ in _assigned(ast.parse(LIMITS.read_text(encoding="utf-8"))) if name.startswith("MAX_")}
    assert {"MAX_BONES", "MAX_TRIANGLES", "MAX_SPLIT_PARTS", "MAX_DRAWN_PARTS", "MAX_PICTURES",
            "MAX_PROMPT_CHARS", "MAX_TARGETS", "MAX_PRINT_TRIANGLES"} <= limits
    again = [f"{path.relative_to(REPO)}:{line} defines {name} ({RETIRED.get(name, name)} is the limits table's)"
             for path in _sources() if path != LIMITS
             for name, line in _assigned(ast.parse(path.read_text(encoding="utf-8")))
             if name in limits or name in RETIRED]
    assert again == [], "a limit defined again (read it from img23d_protocol.limits):\n" + "\n".join(again)
