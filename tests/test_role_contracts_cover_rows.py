"""Every model of every room's table keeps its role's contract (issue 91 item 5): each row of the editors',
material models', parts models', riggers', grounding, matting and depth models' tables is a subject of a class that
inherits the role's contract (``role_contracts*.py``), Qwen-Image-Edit-2511 included; and every model family keeps
the shape and paint families' contracts (issue 99).

The test files are read, not run: a contract class names its subject by a literal choice name, by a default of the
catalog's (``DEFAULT_EDITOR``), or by the whole table (its subject fixture's ``params`` name the table), so a row
added to a table with no contract class over it fails here, naming it."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from img23d_backend import catalog
from img23d_backend.depth.table import DEPTH_PACKAGES
from img23d_backend.editors.table import EDITOR_PACKAGES
from img23d_backend.families.table import FAMILY_MODULES
from img23d_backend.grounding.table import GROUNDING_PACKAGES
from img23d_backend.materials.table import MATERIAL_PACKAGES
from img23d_backend.matting.table import MATTING_PACKAGES
from img23d_backend.parts.table import PARTS_PACKAGES
from img23d_backend.rigging.table import RIGGER_ROW_MODULES
from testdata import REPO

# Each role's contract class -> (the name its table goes by in a test, the table: every row must be covered).
ROLES: dict[str, tuple[str, Mapping[str, str]]] = {
    "EditorContract": ("EDITOR_PACKAGES", EDITOR_PACKAGES),
    "MaterialContract": ("MATERIAL_PACKAGES", MATERIAL_PACKAGES),
    "PartsContract": ("PARTS_PACKAGES", PARTS_PACKAGES),
    "RiggerContract": ("RIGGER_ROW_MODULES", RIGGER_ROW_MODULES),   # the riggers that run a model
    "GroundingContract": ("GROUNDING_PACKAGES", GROUNDING_PACKAGES),
    "MattingContract": ("MATTING_PACKAGES", MATTING_PACKAGES),
    "DepthContract": ("DEPTH_PACKAGES", DEPTH_PACKAGES),
    # The model families (the protocol's MODEL_FAMILIES, whose code the families' table finds): shape and paint.
    "ShapeFamilyContract": ("MODEL_FAMILIES", FAMILY_MODULES),
    "PaintFamilyContract": ("MODEL_FAMILIES", FAMILY_MODULES),
}


def _subjects(fixture: ast.FunctionDef, table_name: str, rows: Mapping[str, str]) -> set[str]:
    """The rows a contract class's subject fixture runs: the whole table when its ``params`` name it, else the
    choice its returned subject names (a string, or a name the catalog defines)."""
    for decorator in fixture.decorator_list:
        if isinstance(decorator, ast.Call):
            params = next((k.value for k in decorator.keywords if k.arg == "params"), None)
            if params is not None and table_name in ast.unparse(params):
                return set(rows)
    named: set[str] = set()
    for node in ast.walk(fixture):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Call) and node.value.args:
            first = node.value.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                named.add(first.value)
            elif isinstance(first, ast.Name) and isinstance(getattr(catalog, first.id, None), str):
                named.add(getattr(catalog, first.id))
    return named


def covered(sources: Mapping[str, str], roles: Mapping[str, tuple[str, Mapping[str, str]]] = ROLES) -> dict[str, set]:
    """Each role's rows some contract class in ``sources`` (test file -> its text) runs."""
    found: dict[str, set[str]] = {role: set() for role in roles}
    for text in sources.values():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.ClassDef):
                continue
            for base in (b.id for b in node.bases if isinstance(b, ast.Name) and b.id in roles):
                table_name, rows = roles[base]
                for fixture in (f for f in node.body if isinstance(f, ast.FunctionDef) and f.name.endswith("subject")):
                    found[base] |= _subjects(fixture, table_name, rows)
    return found


def _role_tests() -> dict[str, str]:
    """Every test file that names a contract (the others are not parsed)."""
    texts = {str(path): path.read_text(encoding="utf-8") for path in sorted((REPO / "tests").rglob("test_*.py"))}
    return {path: text for path, text in texts.items() if "Contract" in text}


def test_every_row_of_every_rooms_table_keeps_its_roles_contract() -> None:
    found = covered(_role_tests())
    missing = {role: sorted(set(rows) - found[role]) for role, (_, rows) in ROLES.items() if set(rows) - found[role]}
    assert missing == {}, f"rows no contract class runs (give the role's test class a subject for each): {missing}"
    assert "qwen-image-edit-2511" in found["EditorContract"] and {"birefnet-hr", "8b"} <= found["MattingContract"] | \
        found["GroundingContract"]


def test_a_row_no_contract_runs_is_caught() -> None:
    source = ("class TestOne(EditorContract):\n"
              "    @pytest.fixture(scope='class')\n"
              "    def editor_subject(cls, tiny_root):\n"
              "        return EditorSubject(DEFAULT_EDITOR, tiny_root)\n"
              "class TestAll(MattingContract):\n"
              "    @pytest.fixture(scope='class', params=tuple(MATTING_PACKAGES))\n"
              "    def matting_subject(cls, request, tiny_root):\n"
              "        return SharedSubject(request.param, tiny_root)\n")
    found = covered({"injected.py": source})
    assert found["EditorContract"] == {catalog.DEFAULT_EDITOR} and set(EDITOR_PACKAGES) - found["EditorContract"]
    assert found["MattingContract"] == set(MATTING_PACKAGES) and found["DepthContract"] == set()
