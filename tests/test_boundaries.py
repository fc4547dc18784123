"""The import structure a reader sees: one-way imports, each side importing only what it may.

Every module's imports are read with ``ast`` (function-level ones included, since an import
hidden in a function is still a dependency), resolved to the first-party module they name,
and checked:

- no import cycle among first-party modules (imports for type checking only count too);
- the backend's rooms (its sub-packages, and the few modules left at its root) import one way,
  down ``BACKEND_ROOMS``, never back up, and few modules stay at the root;
- the add-on imports no torch, no numpy-heavy library and no backend module: only Blender's
  own modules, the standard library, the protocol package and its own bpy-free packages;
- those (``img23d_client``, ``img23d_installer``) import no bpy, no add-on and no backend module;
- the backend never imports ``bpy``, and the protocol package only the standard library;
- no module is loaded from a file path (``importlib.util.spec_from_file_location`` and the like);
- an import inside a function is for a heavy third-party module (``LAZY_ALLOWED``) or is one of
  the few first-party ones listed in ``LAZY_FIRST_PARTY``, each with the reason it must wait.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from testdata import REPO

PACKAGES = {  # import name -> folder
    "img23d_protocol": REPO / "protocol" / "img23d_protocol",
    "img23d_backend": REPO / "backend" / "img23d_backend",
    "img23d": REPO / "blender_img23d",  # the add-on (its package name inside Blender)
    "img23d_client": REPO / "client" / "img23d_client",
    "img23d_installer": REPO / "client" / "img23d_installer",
}
FOLDERS_OF_BACKEND = PACKAGES["img23d_backend"]
# Heavy third-party modules that may be imported inside a function, so that importing the
# module that uses them stays cheap (and a broken environment can still be named).
LAZY_ALLOWED = {"torch", "torchvision", "transformers", "diffusers", "hy3dgen", "safetensors", "accelerate",
                "huggingface_hub", "tokenizers", "trimesh", "xatlas", "pymeshlab", "cv2", "skimage", "scipy",
                "psutil", "numpy", "PIL", "timm", "kornia", "tqdm", "yaml", "fast_simplification",
                "diso",  # diso: hy3dgen's optional surface extractor, only there on some installs
                "ray",  # ray: the backend's optional extra, only for `batch --ray`
                "pynanoinstantmeshes",  # Instant Meshes: only in its worker, once the worker's stdout is silenced
                "manifold3d", "lib3mf"}  # printing's solid kernel and 3MF library: only when a print runs
# First-party imports that must wait, and why.
LAZY_FIRST_PARTY = {
    # The CLI starts with the standard library only, so that a broken environment is named
    # rather than a traceback; the engine (numpy, PIL, torch) comes once arguments are checked.
    ("img23d_backend.commands.progress", "img23d_backend.jobs"),
    ("img23d_backend.commands.cli", "img23d_backend.replicas.build"),
    ("img23d_backend.commands.cli", "img23d_backend.session"),
    # The service likewise: its start-up failures are said on the protocol channel before torch is imported.
    ("img23d_backend.commands.serve_command", "img23d_backend.service.server"),
    ("img23d_backend.commands.serve_command", "img23d_backend.env.failpoints"),
    ("img23d_backend.commands.serve_command", "img23d_backend.session"),
    # The batch, retexture, relayout and parts commands register with the CLI's parser, which starts
    # light: their engines, pools and Ray come once their arguments are checked.
    ("img23d_backend.commands.batch", "img23d_backend.batch.driver"),
    ("img23d_backend.commands.batch", "img23d_backend.batch.progress"),
    ("img23d_backend.commands.batch", "img23d_backend.batch.preflight"),
    ("img23d_backend.commands.batch", "img23d_backend.batch.ray_pool"),
    # The batch driver holds no model library (tests/backend/batch/test_batch_driver_light.py): its pools start
    # workers, and only a worker (a local process, a Ray actor) imports the engine it runs pictures with.
    ("img23d_backend.batch.local", "img23d_backend.batch.work"),
    ("img23d_backend.batch.ray_pool", "img23d_backend.batch.work"),
    ("img23d_backend.commands.chain", "img23d_backend.session"),
    ("img23d_backend.commands.chain", "img23d_backend.layout.relayout"),
    ("img23d_backend.commands.parts_command", "img23d_backend.commands.session_job"),
    ("img23d_backend.commands.parts_command", "img23d_backend.session"),
    ("img23d_backend.commands.rig_command", "img23d_backend.commands.session_job"),
    ("img23d_backend.commands.rig_command", "img23d_backend.session"),
    ("img23d_backend.commands.print_command", "img23d_backend.printing.request"),
    ("img23d_backend.commands.picture_command", "img23d_backend.commands.session_job"),
    ("img23d_backend.commands.picture_command", "img23d_backend.session"),
    ("img23d_backend.session", "img23d_backend.replicas.build"),
    # The mesh files' reader turns arrays into NumPy's: the CLI imports readers.meshes (to check a
    # mesh's path) with the standard library alone.
    ("img23d_backend.readers.meshes", "img23d_backend.readers.mesh_file"),
    ("img23d_backend.readers.meshes", "img23d_backend.gltf.frame"),
    ("img23d_backend.commands.probe", "img23d_backend.env.device"),
    # The rasterizer imports torch when it loads: only painting needs it.
    ("img23d_backend.families.hunyuan3d.paint", "img23d_backend.families.hunyuan3d.raster"),
    ("img23d_backend.families.hunyuan3d.uv_bake", "img23d_backend.families.hunyuan3d.raster"),
    # So does the back-projection of the painted views: only the bake needs it.
    ("img23d_backend.families.hunyuan3d.paint", "img23d_backend.families.hunyuan3d.back_project"),
    # The family interface imports the model manager and the stages: the table's facts (which the
    # catalog reads to compose the model sets) must not wait for them; only a family asked for needs it.
    ("img23d_backend.families.table", "img23d_backend.families.family"),
    # Likewise the rigger interface imports numpy: the catalog reads the riggers' rows (their specs, for the model
    # list) on every start; only a rigger asked for needs it.
    ("img23d_backend.rigging.table", "img23d_backend.rigging.rigger"),
    # The BiRefNet replica's remote code (one stand-in per size) imports torch and transformers
    # when it loads: only a build needs it.
    ("img23d_backend.matting.birefnet.replica", "img23d_backend.matting.birefnet.birefnet_tiny.BiRefNet_config"),
    ("img23d_backend.matting.birefnet.replica", "img23d_backend.matting.birefnet.birefnet_tiny.birefnet"),
    ("img23d_backend.matting.birefnet.replica", "img23d_backend.matting.birefnet.birefnet_full.BiRefNet_config"),
    ("img23d_backend.matting.birefnet.replica", "img23d_backend.matting.birefnet.birefnet_full.birefnet"),
}
# Blender's own modules, and numpy, which every Blender ships (the add-on reads mesh arrays
# with it); nothing heavier, and of ours only the protocol package.
ADDON_MAY_IMPORT = {"bpy", "mathutils", "bmesh", "gpu", "addon_utils", "bpy_extras", "numpy", "img23d_protocol",
                    "img23d_client", "img23d_installer"}
FILE_PATH_LOADERS = ("spec_from_file_location", "SourceFileLoader", "load_source", "run_path")


@dataclass(frozen=True)
class Import:
    module: str        # the importing module, dotted
    target: str        # what it imports, dotted and absolute
    line: int
    lazy: bool         # inside a function


def _module_name(package: str, folder: Path, path: Path) -> str:
    parts = list(path.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _imports(package: str, folder: Path, path: Path) -> list[Import]:
    name = _module_name(package, folder, path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(name, _resolve(name, is_package, 0, alias.name), child.lineno, lazy)
                             for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(name, is_package, child.level, child.module)
                for alias in child.names:
                    # "from . import x" may name a submodule; count it as one when it is.
                    candidate = f"{base}.{alias.name}"
                    found.append(Import(name, candidate if _is_first_party_module(candidate) else base,
                                        child.lineno, lazy))
            visit(child, inner)

    visit(tree, False)
    return found


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _first_party_files() -> dict[str, Path]:
    files = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[_module_name(package, folder, path)] = path
    return files


FILES = _first_party_files()


def _is_first_party_module(dotted: str) -> bool:
    return dotted in FILES


def _owner(dotted: str) -> str | None:
    """The first-party module an import lands in (a name inside a module counts as the module)."""
    while dotted:
        if dotted in FILES:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def _all_imports() -> list[Import]:
    result = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                result.extend(_imports(package, folder, path))
    return result


IMPORTS = _all_imports()


def test_the_reader_found_the_packages() -> None:
    assert {"img23d_protocol", "img23d_backend.commands.cli", "img23d.operators.generate", "img23d_client.session",
            "img23d_installer.install"} <= set(FILES)
    assert len(IMPORTS) > 200


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {name: set() for name in FILES}
    for imp in IMPORTS:
        owner = _owner(imp.target)
        # A package's __init__ re-exporting its own modules is not a cycle of dependencies.
        if owner and owner != imp.module and not owner.startswith(imp.module + "."):
            graph[imp.module].add(owner)
    cycles = _cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as a readable path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group) + [sorted(group)[0]])

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


# The backend's rooms from the top floor down: a room may import the rooms on the floors below
# its own (and itself), never one on its floor or above. The public face (__main__, api, session)
# stands at the root with the package's __init__; everything else lives in a room.
BACKEND_ROOMS = (
    ("__main__",),
    ("commands",),                  # the command line: parser, options, one module per command
    ("api",),                       # the Python API a pipeline imports
    ("service", "batch"),           # the JSON-lines service Blender talks to; batches of pictures
    ("session",),                   # an engine with its model set, for the API, CLI and batches
    ("jobs", "replicas"),           # the engine, its kinds of job and their steps; the tiny and full-size replicas
    ("catalog",),                   # the model sets, composed from the families' and the rooms' rows and the shared ones
    ("parts",),                     # the parts models, and a mesh cut into named parts (split: renders, votes
                                    # on faces, labels, capped pieces), over views' renders and finish's bake
    ("printing",),                  # a mesh or a run made printable: repaired, to scale in mm, 3MF and STL
    ("layout", "families", "editors", "materials", "finish", "views", "rigging"),  # objects laid out in depth;
                                    # the model families; the image editors; the material models; game-ready
                                    # finishing; more pictures of one object (read, cut out, projected); the
                                    # riggers (skeleton and skin weights)
    ("stages",),                    # what the jobs' steps share with the rooms below: crop, skips, the step context
    ("uv",),                        # UVs: the unwrap, box charts and their packing, the fill, re-texturing's bake
    ("mesh",),                      # a target's mesh: clean-up, repair, holes, smoothing, decimation, the CPU tail
    ("grounding", "matting", "depth"),  # the models every job uses, a room each: a box per name; each crop
                                    # cut out; the picture's depth
    ("clean_raster", "surfaces", "neural"),  # the clean rasterizer (the clean family's, and views' projections);
                                    # signed fields to meshes (every model that decodes one); the neural blocks
                                    # more than one model is built from (step1x, autopartgen, skintokens)
    ("models",),                    # registry, download, cache, manager, memory, probes, preflight
    ("readers",),                   # pictures and mesh files from the user's disk; the artist's mesh read and checked
    ("gltf",),                      # glTF's side: the one axis turn between Blender's frame and glTF's, the
                                    # bounded reader of a glTF's data and its scene (what a rig reads and writes)
    ("runs",),                      # run folders: written, imported, their file stems
    ("env",),                       # device, torch shims, failpoints, interrupts, job control
)
BACKEND_ROOT_MODULES = {"img23d_backend", "img23d_backend.__main__", "img23d_backend.api", "img23d_backend.session",
                        "img23d_backend.catalog"}


def _backend_room(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def test_every_backend_module_lives_in_a_named_room() -> None:
    floors = {room for floor in BACKEND_ROOMS for room in floor}
    rooms = {_backend_room(name) for name in FILES if name.startswith("img23d_backend.")}
    root = {name for name in FILES if name.startswith("img23d_backend") and name.count(".") <= 1
            and not (FOLDERS_OF_BACKEND / name.split(".")[-1]).is_dir()}
    assert root <= BACKEND_ROOT_MODULES, f"modules loose at the backend's root: {sorted(root - BACKEND_ROOT_MODULES)}"
    assert rooms <= floors, f"backend rooms on no floor of BACKEND_ROOMS: {sorted(rooms - floors)}"


def test_the_backend_rooms_import_one_way_down() -> None:
    floor_of = {room: level for level, floor in enumerate(BACKEND_ROOMS) for room in floor}
    floor_of["__init__"] = len(BACKEND_ROOMS)  # the package's face (its version) is below every room
    bad = []
    for imp in IMPORTS:
        owner = _owner(imp.target)
        if not (imp.module.startswith("img23d_backend.") and owner and owner.startswith("img23d_backend")):
            continue
        source, target = _backend_room(imp.module), _backend_room(owner)
        if source != target and floor_of[target] <= floor_of[source]:
            bad.append(f"{imp.module}:{imp.line} ({source}) imports {owner} ({target}), on its floor or above")
    assert bad == [], "imports that run back up (move the code, or the room in BACKEND_ROOMS):\n" + "\n".join(bad)


def test_the_addon_imports_only_blender_the_stdlib_and_the_protocol() -> None:
    def allowed(target: str) -> bool:
        top = target.split(".")[0]
        return top in sys.stdlib_module_names or top in ADDON_MAY_IMPORT or top in ("__future__", "img23d")

    bad = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS
           if (i.module == "img23d" or i.module.startswith("img23d.")) and not allowed(i.target)]
    assert bad == []


def test_the_client_packages_import_no_blender_and_run_one_way() -> None:
    """``img23d_client`` and ``img23d_installer`` import without Blender (tests, the installer's
    command line, an SSH host load them by their names): the standard library and the protocol
    only, never bpy, the add-on or the backend; the installer may use the client, never back."""
    def allowed(module: str, target: str) -> bool:
        top = target.split(".")[0]
        if top == "img23d_installer":
            return module.startswith("img23d_installer")
        return top in sys.stdlib_module_names or top in ("__future__", "img23d_protocol", "img23d_client")

    bad = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS
           if i.module.split(".")[0] in ("img23d_client", "img23d_installer") and not allowed(i.module, i.target)]
    assert bad == []


def test_the_backend_never_imports_blender() -> None:
    bad = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS if i.module.startswith("img23d_backend")
           if i.target.split(".")[0] in {"bpy", "mathutils", "bmesh", "gpu"} or i.target.startswith("img23d.")]
    assert bad == []


# The protocol's modules that may use numpy, which the backend and every Blender have: each is
# imported by name where it is used, never by the package's __init__, so the rest stays stdlib only.
PROTOCOL_NUMPY = {"img23d_protocol.splats",  # splats from a mesh: the backend and the add-on write the same file
                  "img23d_protocol.rig_weights",  # a rig's weights file, read bounded by the add-on
                  "img23d_protocol.frame"}  # the one axis turn between Blender's frame and glTF's, both sides


def test_the_protocol_imports_only_the_standard_library() -> None:
    def allowed(imp: Import) -> bool:
        top = imp.target.split(".")[0]
        return (imp.target.startswith("img23d_protocol") or top in sys.stdlib_module_names
                or imp.target == "__future__" or (top == "numpy" and imp.module in PROTOCOL_NUMPY))

    bad = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS if i.module.startswith("img23d_protocol")
           if not allowed(i)]
    assert bad == []
    in_protocol = [f"{i.module} imports {_owner(i.target)}" for i in IMPORTS if i.module.startswith("img23d_protocol")
                   if _owner(i.target) in PROTOCOL_NUMPY]
    assert in_protocol == [], "a numpy module of the protocol is imported by the package itself"


@pytest.mark.parametrize("module", sorted(FILES))
def test_no_file_path_imports(module: str) -> None:
    text = FILES[module].read_text(encoding="utf-8")
    used = [name for name in FILE_PATH_LOADERS if name in text]
    assert used == [], f"{module} loads code from a file path ({', '.join(used)}): import it by name"


def _family_replicas(module: str, owner: str) -> bool:
    """A family's ``family.py`` importing its own ``replicas.py``: the replica builders import torch,
    diffusers and its networks (hy3dgen's, or its own) when they load, and only a replica build asks a
    family for them (``Family.replicas``). One rule for every family, so a new one needs no entry here."""
    package, _, leaf = module.rpartition(".")
    return (leaf == "family" and package.startswith("img23d_backend.families.") and package.count(".") == 2
            and owner == f"{package}.replicas")


def test_imports_inside_functions_are_heavy_third_party_or_listed() -> None:
    bad = []
    for imp in IMPORTS:
        if not imp.lazy:
            continue
        owner = _owner(imp.target)
        top = imp.target.split(".")[0]
        if owner is None:
            if top not in LAZY_ALLOWED and top not in sys.stdlib_module_names:
                bad.append(f"{imp.module}:{imp.line} imports {imp.target} inside a function")
        elif (imp.module, owner) not in LAZY_FIRST_PARTY and not _family_replicas(imp.module, owner):
            bad.append(f"{imp.module}:{imp.line} imports {owner} inside a function")
    assert bad == [], "imports hidden in functions (move them to the top, or list them with a reason):\n" + \
        "\n".join(bad)
