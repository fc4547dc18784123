"""No branch on a model family's name outside ``families/`` and ``protocol/`` (issue 45).

A family's code lives in ``backend/img23d_backend/families/<family>/``, behind one interface
(``families.family.Family``) that the rest of the backend reaches through one table
(``families.table``). Everywhere else (the backend's other rooms, the add-on, the client and the
installer) this test forbids, by reading the code:

* a comparison with a family's name: ``== HUNYUAN3D``, ``!= protocol.CLEAN``, ``== "hunyuan3d"``,
  ``in (CLEAN, ...)`` and the like (a table keyed by the protocol's names, such as the registry's
  model tables, is data, not a branch, and stays allowed);
* ``isinstance`` against a class a family module defines;
* an import of a family's own modules: only ``families.table`` and ``families.family`` (the
  interface) may be imported from outside.

The mechanism rooms below the families' facts (``models/``, ``stages/``) and the replica sets
(``replicas/``) go further: they may not *name* a family at all (``mentions_in``): no family's name
(its protocol constant or its string), and no identifier of a family's own facts (a name with
``hunyuan`` or ``step1x`` in it: ``HUNYUAN_MEMORY``, ``step1x_precision``, ``STEP1X_FILES``, the rows
that lived in ``models/registry.py``, ``preflight.py``, ``dtypes.py`` and ``folder_files.py`` until
issue 56). A family's facts live in its folder (``families/<family>/specs.py``), reached through
``families.table.facts_of``. The catalog (``catalog.py``), which composes the model sets from them, stands
above the model rooms: nothing on its floor or below imports it (``catalog_imports``).

No room is left out. The random-weight replicas were the last: each family's builders live in its
family (``families/<family>/...replica*.py``, gathered by its ``replicas.py``) and reach the tiny
and full-size sets (``replicas/build.py``, ``replicas/full.py``) through ``Family.replicas``. Reads
the code with ``test_boundaries``' reader (``FILES``, ``IMPORTS``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import test_boundaries as boundaries
from img23d_protocol import MODEL_FAMILIES

FAMILIES_PACKAGE = "img23d_backend.families"
INTERFACE = {f"{FAMILIES_PACKAGE}.table", f"{FAMILIES_PACKAGE}.family", f"{FAMILIES_PACKAGE}.facts", FAMILIES_PACKAGE}
FAMILY_NAME_CONSTANTS = {"HUNYUAN3D", "CLEAN"}   # img23d_protocol's names of the families


def _checked(module: str) -> bool:
    if module == "img23d_protocol" or module.startswith("img23d_protocol."):
        return False
    return not (module == FAMILIES_PACKAGE or module.startswith(FAMILIES_PACKAGE + "."))


def _is_family_name(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in MODEL_FAMILIES
    if isinstance(node, ast.Name):
        return node.id in FAMILY_NAME_CONSTANTS
    if isinstance(node, ast.Attribute):
        return node.attr in FAMILY_NAME_CONSTANTS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_family_name(element) for element in node.elts)
    return False


def _family_classes() -> set[str]:
    """The names of the classes each family module defines."""
    names = set()
    for module, path in boundaries.FILES.items():
        if module.startswith(FAMILIES_PACKAGE + ".") and module not in INTERFACE:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names.update(node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef))
    return names


FAMILY_CLASSES = _family_classes()


def branches_in(module: str, source: str, family_classes: set[str] = FAMILY_CLASSES) -> list[str]:
    """Each comparison with a family's name and each isinstance against a family's class in
    ``source`` (the code of ``module``), as "module:line what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(_is_family_name(side) for side in (node.left, *node.comparators)):
            found.append(f"{module}:{node.lineno} compares with a family's name: {ast.unparse(node)}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
              and len(node.args) == 2):
            classes = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            named = {c.id if isinstance(c, ast.Name) else c.attr
                     for c in classes if isinstance(c, (ast.Name, ast.Attribute))}
            if named & family_classes:
                found.append(f"{module}:{node.lineno} tests for a family's class: {ast.unparse(node)}")
    return found


def family_imports(imports: list[boundaries.Import]) -> list[str]:
    """Each import of a family's own module (not the interface or the table) from outside families/."""
    found = []
    for imp in imports:
        owner = boundaries._owner(imp.target) or imp.target
        if _checked(imp.module) and owner.startswith(FAMILIES_PACKAGE + ".") and owner not in INTERFACE:
            found.append(f"{imp.module}:{imp.line} imports {owner}")
    return found


def test_no_module_outside_the_families_branches_on_a_familys_name_or_class() -> None:
    found = []
    for module, path in boundaries.FILES.items():
        if _checked(module):
            found.extend(branches_in(module, Path(path).read_text(encoding="utf-8")))
    assert found == [], "put the difference in the family (families/family.py's Family):\n" + "\n".join(found)


def test_no_module_outside_the_families_imports_a_familys_own_code() -> None:
    found = family_imports(boundaries.IMPORTS)
    assert found == [], "reach a family through families.table:\n" + "\n".join(found)


def test_the_reader_sees_both_families_classes() -> None:
    assert {"Step1XGeometry", "DecodeSettings"} <= FAMILY_CLASSES  # Step1X-3D's loader, Hunyuan3D-2's decoding
    assert "Family" not in FAMILY_CLASSES  # the interface is not a family's


@pytest.mark.parametrize("module, source, words", [
    ("jobs", "if shape_kind(spec).family == HUNYUAN3D:\n    pass", "compares with a family's name"),
    ("jobs", "x = self.family != protocol.CLEAN", "compares with a family's name"),
    ("jobs", "ok = family in ('hunyuan3d', 'other')", "compares with a family's name"),
    ("jobs", "if isinstance(pipe, Step1XGeometry):\n    pass", "tests for a family's class"),
    # In models/, stages/ and replicas/ a mention is enough: a family's name, or its facts' identifiers.
    ("models", "HUNYUAN_MEMORY = ShapeMemory(28, 10, 6, 8, 1)", "HUNYUAN_MEMORY"),
    ("models", "def step1x_precision(device):\n    return None", "step1x_precision"),
    ("models", "from .folder_files import STEP1X_FILES", "STEP1X_FILES"),
    ("models", "TEXTURE = {CLEAN: None}", "CLEAN"),
    ("models", "family = 'hunyuan3d'", "'hunyuan3d'"),
    ("models", "memory = preflight.HUNYUAN_MV_MEMORY", "HUNYUAN_MV_MEMORY"),
])
def test_an_injected_branch_or_mention_is_caught(module: str, source: str, words: str) -> None:
    check = branches_in if module == "jobs" else mentions_in
    found = check(f"img23d_backend.{module}.injected", source)
    assert found and words in found[0], found


def test_an_injected_import_of_a_familys_module_is_caught() -> None:
    loader = "img23d_backend.families.step1x.geometry.loader"
    injected = [boundaries.Import("img23d_backend.jobs.injected", f"{loader}.Step1XGeometry", 1, lazy=True),
                boundaries.Import("img23d_backend.jobs.fine", "img23d_backend.families.table.family_of", 1, lazy=False)]
    assert family_imports(injected) == [f"img23d_backend.jobs.injected:1 imports {loader}"]


# The rooms that may not even name a family, and the words a family's own identifiers carry.
UNNAMING_ROOMS = ("img23d_backend.models", "img23d_backend.stages", "img23d_backend.mesh", "img23d_backend.uv",
                  "img23d_backend.replicas")
FAMILY_WORDS = re.compile(r"(?i)hunyuan|step1x")
CATALOG = "img23d_backend.catalog"


def _named(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.alias):
        return node.asname or node.name.rpartition(".")[2]
    if isinstance(node, ast.arg):
        return node.arg
    return None


def mentions_in(module: str, source: str) -> list[str]:
    """Each mention of a family in ``source`` (the code of ``module``): its name as a constant or a
    string, or an identifier of its own facts, as "module:line what". Comments and docstrings are prose."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = _named(node)
        if name is not None and (name in FAMILY_NAME_CONSTANTS or FAMILY_WORDS.search(name)):
            found.append(f"{module}:{getattr(node, 'lineno', 0)} names a family: {name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in MODEL_FAMILIES:
            found.append(f"{module}:{node.lineno} names a family: {node.value!r}")
    return found


def _in_unnaming_room(module: str) -> bool:
    return any(module == room or module.startswith(room + ".") for room in UNNAMING_ROOMS)


def test_models_stages_and_replicas_name_no_family() -> None:
    found = []
    for module, path in boundaries.FILES.items():
        if _in_unnaming_room(module):
            found.extend(mentions_in(module, Path(path).read_text(encoding="utf-8")))
    assert found == [], ("a family's facts belong in its folder (families/<family>/specs.py, asked for through "
                         "families.table.facts_of):\n" + "\n".join(found))


def catalog_imports(imports: list[boundaries.Import]) -> list[str]:
    """Each import of the catalog from a room on its floor or below (every room but those above it)."""
    floor_of = {room: level for level, floor in enumerate(boundaries.BACKEND_ROOMS) for room in floor}
    catalog_floor = floor_of["catalog"]
    return [f"{imp.module}:{imp.line} imports the catalog" for imp in imports
            if boundaries._owner(imp.target) == CATALOG and imp.module != CATALOG
            and floor_of.get(boundaries._backend_room(imp.module), -1) >= catalog_floor]


def test_nothing_below_the_catalog_imports_it() -> None:
    found = catalog_imports(boundaries.IMPORTS)
    assert found == [], "the catalog composes the model rooms; they never ask it:\n" + "\n".join(found)


def test_an_injected_import_of_the_catalog_from_below_is_caught() -> None:
    injected = [boundaries.Import("img23d_backend.models.preflight", f"{CATALOG}.SHAPE", 1, lazy=True),
                boundaries.Import("img23d_backend.families.hunyuan3d.replicas", f"{CATALOG}.tiny_model_set", 2,
                                  lazy=False),
                boundaries.Import("img23d_backend.jobs.engine", f"{CATALOG}.SHAPE", 3, lazy=False)]
    assert catalog_imports(injected) == ["img23d_backend.models.preflight:1 imports the catalog",
                                         "img23d_backend.families.hunyuan3d.replicas:2 imports the catalog"]
