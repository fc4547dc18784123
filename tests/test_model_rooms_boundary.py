"""No image editor or material model named outside its room (issue 56 item 1).

Each editor's code lives in ``backend/img23d_backend/editors/<editor>/`` and each material model's in
``materials/<model>/``, behind an interface (``editors.editor``, ``materials.material``) that the rest
of the backend reaches through one table per room (``editors.table``, ``materials.table``). This test
reads the code and forbids:

* in the mechanism rooms (``stages``, ``models``, ``replicas``, ``jobs``): a module named after an
  editor or a material model; any mention of one in its code or its words (its choice name, its
  folder's name, the diffusers pipeline it runs, the distinctive words of its name: ``klein``,
  ``flux2``, ``marigold``), so no branch on one either; an ``isinstance`` against a class an
  editor's or a material model's folder defines; an import of such a folder's modules (the rooms'
  shared modules and tables only). ``replicas/build.py`` and ``replicas/full.py`` collect every
  replica through the tables, naming none;
* in the rooms' shared modules (the driver, the interface, the tables): an import of one model's folder;
* in one model's folder: an import of another model's folder.

The models every job uses (a grounding model in ``grounding/<model>/``, a matting model in ``matting/<model>/``, a
depth model in ``depth/<model>/``, each reached through its room's table and driver) are forbidden in the chain and
the mechanism rooms alike (``SHARED_MODEL_ROOMS``), by their folders' names and the labels the protocol's rows give
them (``Qwen3-VL``, ``BiRefNet``, ``Depth Anything``): jobs/base.py once imported BiRefNet's input sides and the
command line's help named Qwen3-VL's sizes.

A rigger's model (``rigging/<model>/``, reached through ``rigging.table``) and a parts model
(``parts/<model>/``, reached through ``parts.table`` and the room's driver) are forbidden further up too: in
the whole chain (``CHAIN_ROOMS``: the jobs, the stages, the command line, the service and the session), where
``commands/rig_command.py`` once named SkinTokens in its help and ``jobs/kinds/rig.py`` imported its package, and
the parts and generate commands' help named AutoPartGen.

The words come from the tables themselves, so a third editor adds no line here. Reads the code with
``test_boundaries``' reader (``FILES``, ``IMPORTS``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import test_boundaries as boundaries
import img23d_protocol as protocol
from img23d_backend.depth.table import DEPTH_PACKAGES
from img23d_backend.editors.table import EDITOR_PACKAGES, EDITOR_ROWS
from img23d_backend.grounding.table import GROUNDING_PACKAGES
from img23d_backend.matting.table import MATTING_PACKAGES
from img23d_backend.materials.table import MATERIAL_PACKAGES
from img23d_backend.parts.table import PARTS_PACKAGES
from img23d_backend.rigging.table import RIGGER_MODULES

MECHANISM_ROOMS = ("stages", "mesh", "uv", "models", "replicas", "jobs")
CHAIN_ROOMS = (*MECHANISM_ROOMS, "commands", "service", "session")   # where no rigger's or parts model is named
SHARED_MODEL_ROOMS = CHAIN_ROOMS   # where no grounding, matting or depth model is named (models/ and replicas/ too)
# The rooms of the models every job uses: each folder's choices and the protocol's rows that label them.
SHARED_TABLES = ((GROUNDING_PACKAGES, protocol.GROUNDING_MODELS), (MATTING_PACKAGES, protocol.MATTING_MODELS),
                 (DEPTH_PACKAGES, protocol.DEPTH_MODELS))
GENERIC_WORDS = {"image", "model"}  # parts of a name too common to name it


@dataclass(frozen=True)
class RoomModel:
    """One editor or material model: its package and the words that name it in code."""

    package: str
    words: frozenset[str]
    rooms: tuple[str, ...] = MECHANISM_ROOMS   # the rooms that must not name it


def _words(choice: str, package: str, *more: str) -> frozenset[str]:
    folder = package.rsplit(".", 1)[-1]
    parts = {part for part in re.split(r"[-_]", f"{choice}-{folder}")
             if len(part) >= 5 and part.isalnum() and not part.isdigit() and part not in GENERIC_WORDS}
    return frozenset({*({choice} - GENERIC_WORDS), folder, *more, *parts})


# Each rigger that runs a model: the folder its table's module lies in (the geometric binding's is the room's own).
RIGGER_PACKAGES = {name: module.rsplit(".", 1)[0] for name, module in RIGGER_MODULES.items()
                   if module.rsplit(".", 1)[0] != "img23d_backend.rigging"}


def _shared_words(package: str, labels: list[str], choices: list[str]) -> frozenset[str]:
    """A shared model's folder, spelt with hyphens and spaces too, its choices of five letters or more and the
    words its labels begin with ("Qwen3-VL 2B": Qwen3-VL; "Depth Anything V2 Small": Depth Anything)."""
    folder = package.rsplit(".", 1)[-1]
    spelt = {folder, folder.replace("_", "-"), folder.replace("_", " ")}
    named = {" ".join(label.split(" ")[:2]) if " " in label and not label.split(" ")[1][:1].isdigit()
             else label.split(" ")[0] for label in labels}
    return frozenset({*spelt, *named, *(choice for choice in choices if len(choice) >= 5)})


def _shared_models() -> list[RoomModel]:
    models = []
    for packages, rows in SHARED_TABLES:
        for package in dict.fromkeys(packages.values()):
            choices = [name for name, owner in packages.items() if owner == package]
            models.append(RoomModel(package, _shared_words(package, [rows[c].label for c in choices], choices),
                                    SHARED_MODEL_ROOMS))
    return models


ROOM_MODELS = (
    *(RoomModel(package, _words(name, package, EDITOR_ROWS[name].pipeline)) for name, package in EDITOR_PACKAGES.items()),
    *(RoomModel(package, _words(name, package)) for name, package in MATERIAL_PACKAGES.items()),
    *(RoomModel(package, _words(name, package), CHAIN_ROOMS) for name, package in PARTS_PACKAGES.items()),
    *(RoomModel(package, _words(name, package), CHAIN_ROOMS) for name, package in RIGGER_PACKAGES.items()),
    *_shared_models(),
)
ROOMS = ("img23d_backend.editors", "img23d_backend.materials", "img23d_backend.parts", "img23d_backend.rigging",
         "img23d_backend.grounding", "img23d_backend.matting", "img23d_backend.depth")


def _in_mechanism_room(module: str, rooms: tuple[str, ...] = MECHANISM_ROOMS) -> bool:
    return any(module == f"img23d_backend.{room}" or module.startswith(f"img23d_backend.{room}.")
               for room in rooms)


def _model_of(module: str) -> RoomModel | None:
    return next((model for model in ROOM_MODELS
                 if module == model.package or module.startswith(model.package + ".")), None)


def _model_classes() -> set[str]:
    names = set()
    for module, path in boundaries.FILES.items():
        if _model_of(module) is not None:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"))
            names.update(node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef))
    return names


MODEL_CLASSES = _model_classes()


def mentions_in(module: str, source: str, models: tuple[RoomModel, ...] = ROOM_MODELS,
                classes: set[str] = MODEL_CLASSES) -> list[str]:
    """Each place ``source`` (the code of ``module``) names an editor or a material model, as
    "module:line what": its words anywhere (case aside), and an isinstance against one's class."""
    found = []
    if (name := module.rsplit(".", 1)[-1].lower()) and any(word.lower() in name for m in models for word in m.words):
        found.append(f"{module}:0 is named after an editor or a material model")
    for number, line in enumerate(source.splitlines(), start=1):
        lowered = line.lower()
        words = sorted(word for model in models for word in model.words if word.lower() in lowered)
        if words:
            found.append(f"{module}:{number} names {', '.join(words)}: {line.strip()}")
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
                and len(node.args) == 2):
            tested = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            named = {c.id if isinstance(c, ast.Name) else c.attr for c in tested if isinstance(c, (ast.Name, ast.Attribute))}
            if named & classes:
                found.append(f"{module}:{node.lineno} tests for an editor's or a material model's class")
    return found


def room_imports(imports: list[boundaries.Import]) -> list[str]:
    """Each import of one model's folder from a module outside that folder: from the mechanism rooms,
    from a room's shared modules, or from another model's folder."""
    found = []
    for imp in imports:
        owner = boundaries._owner(imp.target) or imp.target
        target = _model_of(owner)
        if target is None or _model_of(imp.module) is target:
            continue
        if (_in_mechanism_room(imp.module, target.rooms) or _model_of(imp.module) is not None
                or imp.module.startswith(ROOMS)):
            found.append(f"{imp.module}:{imp.line} imports {owner}")
    return found


def test_no_mechanism_room_names_an_editor_or_a_material_model() -> None:
    found = []
    for module, path in boundaries.FILES.items():
        models = tuple(model for model in ROOM_MODELS if _in_mechanism_room(module, model.rooms))
        if models:
            found.extend(mentions_in(module, Path(path).read_text(encoding="utf-8"), models))
    assert found == [], "put the difference in the model's folder (editors/editor.py, materials/material.py):\n" \
        + "\n".join(found)


def test_a_models_folder_is_reached_only_through_its_rooms_table() -> None:
    found = room_imports(boundaries.IMPORTS)
    assert found == [], "reach an editor or a material model through its room's table:\n" + "\n".join(found)


def test_the_words_come_from_every_table_entry() -> None:
    packages = {model.package for model in ROOM_MODELS}
    assert packages == {*EDITOR_PACKAGES.values(), *MATERIAL_PACKAGES.values(), *PARTS_PACKAGES.values(),
                        *RIGGER_PACKAGES.values(), *(p for packages, _ in SHARED_TABLES for p in packages.values())}
    assert all(package in boundaries.FILES for package in packages)  # each a package the reader sees
    # FLUX.2 [klein]'s distinctive words, Qwen-Image-Edit-2511's pipeline, Marigold's name.
    words = set().union(*(model.words for model in ROOM_MODELS))
    assert {"klein", "flux2", "QwenImageEditPlusPipeline", "qwen_edit", "marigold", "skintokens"} <= words
    assert "model" not in words and "geometric" not in words   # the riggers' choice names are common words
    assert "qwen" not in words and "image" not in words  # the image editor's Qwen and every picture stay free
    # Qwen3-VL, BiRefNet (and BiRefNet_HR through it) and Depth Anything, however they are spelt.
    assert {"Qwen3-VL", "qwen3_vl", "birefnet", "BiRefNet", "birefnet-hr", "depth-anything", "Depth Anything"} <= words
    assert "depth" not in words and "matting" not in words   # the roles' own names stay free
    assert {"EditorRow", "MaterialsModel"} & MODEL_CLASSES == {"MaterialsModel"}  # the interface is no model's


@pytest.mark.parametrize("source, words", [
    ('choice = None if editor is None else ("qwen-image-edit-2511" if "x" in spec.repo_id else "")', "names"),
    ("from ..editors.flux2_klein.model import KLEIN_BYTES", "names flux2, flux2_klein, klein"),
    ('if type(pipeline).__name__ == "QwenImageEditPlusPipeline":\n    pass', "names QwenImageEditPlusPipeline"),
    ("if isinstance(model, MaterialsModel):\n    pass", "tests for an editor's or a material model's class"),
])
def test_an_injected_mention_is_caught(source: str, words: str) -> None:
    found = mentions_in("img23d_backend.jobs.injected", source)
    assert found and any(words in line for line in found), found


def test_a_riggers_model_is_caught_anywhere_in_the_chain() -> None:
    """The command line, the service and the session may name no rigger's model, nor import its folder (an
    editor's words stay theirs: the command line lists the editors)."""
    package = next(iter(RIGGER_PACKAGES.values()))
    [model] = [model for model in ROOM_MODELS if model.package == package]
    assert mentions_in("img23d_backend.commands.rig_command", 'help="model (SkinTokens, MIT)"', (model,))
    assert room_imports([boundaries.Import("img23d_backend.session", f"{package}.rigger.spec_for", 1, lazy=True),
                         boundaries.Import("img23d_backend.rigging.driver", f"{package}.costs.preflight", 2,
                                           lazy=False),
                         boundaries.Import(f"{package}.row", f"{package}.costs.preflight", 3, lazy=False)]) == [
        f"img23d_backend.session:1 imports {package}.rigger", f"img23d_backend.rigging.driver:2 imports {package}.costs"]


def test_a_module_named_after_one_is_caught() -> None:
    assert mentions_in("img23d_backend.stages.marigold_maps", "x = 1") == [
        "img23d_backend.stages.marigold_maps:0 is named after an editor or a material model"]


def test_an_injected_import_of_a_models_folder_is_caught() -> None:
    klein = "img23d_backend.editors.flux2_klein.phases"
    injected = [
        boundaries.Import("img23d_backend.jobs.injected", f"{klein}.decode", 1, lazy=True),
        boundaries.Import("img23d_backend.editors.qwen_edit.phases", f"{klein}.decode", 2, lazy=False),
        boundaries.Import("img23d_backend.editors.driver", "img23d_backend.materials.marigold.pipeline", 3, lazy=False),
        # Allowed: the table, a model's own modules, the shared driver.
        boundaries.Import("img23d_backend.jobs.fine", "img23d_backend.editors.table.EDITOR_ROWS", 4, lazy=False),
        boundaries.Import("img23d_backend.editors.flux2_klein.editor", f"{klein}.PHASES", 5, lazy=False),
        boundaries.Import("img23d_backend.editors.qwen_edit.phases", "img23d_backend.editors.pipeline", 6, lazy=False),
    ]
    assert room_imports(injected) == [
        f"img23d_backend.jobs.injected:1 imports {klein}",
        f"img23d_backend.editors.qwen_edit.phases:2 imports {klein}",
        "img23d_backend.editors.driver:3 imports img23d_backend.materials.marigold.pipeline"]


def test_the_command_line_starts_with_the_rows_alone() -> None:
    """The registry composes the model sets from the rooms' rows on every start (the command line
    included, which starts light so that a broken environment is named): the rows and interfaces
    import no numpy, PIL or torch, and no model's code (its ``editor.py``, ``material.py``, ``generator.py``)
    until asked. The parts room's own package is named ``parts`` like an editor's part readers (``.parts``):
    that one name is the room, not code, and is left out; the interfaces are the only modules expected."""
    probe = ("import sys, img23d_backend.commands.cli\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'PIL', 'torch')\n"
             "             or (m.endswith(('.editor', '.material', '.generator', '.phases', '.parts', '.pipeline'))\n"
             "                 and m != 'img23d_backend.parts')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("['img23d_backend.editors.editor', 'img23d_backend.materials.material', "
                                   "'img23d_backend.parts.generator']"), done.stdout
