"""Nothing a licence-clean job runs imports code derived from Tencent-licensed code, transitively.

The clean family (``families/step1x/``: Step1X-3D's geometry, its texture model and its paint step,
the family's entry in the table; and the rasterizer ``clean_raster/``) is what img23d offers where
Tencent's licence does not reach. Starting from its modules, this follows every first-party import
(at module level or inside a function: both can run) and, for each module reached, its packages'
``__init__`` (Python runs them on import), and fails on any module of the Hunyuan family's
(``TENCENT_DERIVED``: ``families/hunyuan3d/``, Hunyuan3D-2's family, with ``raster/``, the port of
Hunyuan3D's compiled rasterizer, and ``fast_load``, hy3dgen's fast builders; the filling left in
``uv/``) or any import of hy3dgen or its compiled extensions, and says the chain of imports that
reached it.

A job also runs what every family shares: the command line and the service, the job room, the
stages, the model manager. So a second walk starts from every first-party module that is not
Tencent-derived itself: none may import one, the job room's face and base included (they once
imported every family through the table, and the walk stopped there). A job reaches a family's code
only through the table of families (``families.table.FAMILY_MODULES``), which names each family's
module and imports it when a job asks for that family; the reader does not follow a module named in
a string, so tests/backend/jobs/test_clean_job_modules.py runs a real clean job and reads its
``sys.modules``, and the last test here holds the table's entries to the lists below.

Reads the imports with ``test_boundaries``' reader (``IMPORTS``, ``FILES``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

import test_boundaries as boundaries

CLEAN_FAMILY = ("img23d_backend.families.step1x", "img23d_backend.clean_raster", "img23d_backend.surfaces")
TENCENT_DERIVED = ("img23d_backend.families.hunyuan3d", "img23d_backend.uv.fill")
# The Hunyuan family's facts (``families.table.FACTS_MODULES``: its models' repositories, revisions, file
# lists, sizes and memory figures) are data, none of Tencent's code: the catalog reads them to list every
# family's models, so a clean job imports them and the package's face (a docstring). Their own imports
# are walked with the shared modules', so they cannot reach the family's code.
FAMILY_FACTS = ("img23d_backend.families.hunyuan3d", "img23d_backend.families.hunyuan3d.specs",
                "img23d_backend.families.hunyuan3d.mv_specs")
# hy3dgen, and the compiled extensions Hunyuan3D builds (its rasterizer and its renderer's mesh processor).
TENCENT_PACKAGES = {"hy3dgen", "custom_rasterizer", "custom_rasterizer_kernel", "differentiable_renderer",
                    "mesh_processor"}


def _is_tencent_derived(module: str) -> bool:
    return module not in FAMILY_FACTS and any(module == root or module.startswith(root + ".")
                                              for root in TENCENT_DERIVED)


def clean_modules() -> list[str]:
    return sorted(name for name in boundaries.FILES
                  if any(name == root or name.startswith(root + ".") for root in CLEAN_FAMILY))


def shared_modules() -> list[str]:
    """Every first-party module of the backend that is not Tencent-derived (what a job may run)."""
    return sorted(name for name in boundaries.FILES
                  if name.split(".")[0] == "img23d_backend" and not _is_tencent_derived(name))


def tencent_reached(starts: Iterable[str], imports: Iterable[boundaries.Import]) -> list[str]:
    """Each Tencent-derived module or package reached from ``starts``, with the chain of imports."""
    first_party: dict[str, set[str]] = {}
    third_party: dict[str, set[str]] = {}
    for imp in imports:
        owner = boundaries._owner(imp.target)
        if owner is not None:
            first_party.setdefault(imp.module, set()).add(owner)
        else:
            third_party.setdefault(imp.module, set()).add(imp.target.split(".")[0])
    came_from: dict[str, str | None] = {start: None for start in starts}
    queue = list(came_from)
    found = []
    while queue:
        module = queue.pop(0)
        if _is_tencent_derived(module):
            found.append(_chain(module, came_from))
            continue                                  # one report per module; what it imports is its own
        for package in sorted(third_party.get(module, set()) & TENCENT_PACKAGES):
            found.append(_chain(module, came_from) + f" -> {package}")
        for target in sorted(first_party.get(module, set()) | _packages_of(module)):
            if target not in came_from:
                came_from[target] = module
                queue.append(target)
    return found


def _packages_of(module: str) -> set[str]:
    """The packages whose ``__init__`` Python runs before ``module``."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in boundaries.FILES}


def _chain(module: str, came_from: dict[str, str | None]) -> str:
    chain = [module]
    while came_from[chain[-1]] is not None:
        chain.append(came_from[chain[-1]])
    return " -> ".join(reversed(chain))


def test_the_clean_family_has_its_modules() -> None:
    modules = clean_modules()
    for expected in ("img23d_backend.surfaces.volume", "img23d_backend.families.step1x.texture.render",
                     "img23d_backend.families.step1x.texture.bake", "img23d_backend.families.step1x.texture.atlas_fill",
                     "img23d_backend.clean_raster.rasterizer", "img23d_backend.families.step1x.texture.paint_step",
                     "img23d_backend.families.step1x.family"):
        assert expected in modules
    assert all(root in boundaries.FILES or any(m.startswith(root + ".") for m in boundaries.FILES)
               for root in TENCENT_DERIVED)


def test_the_clean_family_imports_nothing_derived_from_tencent_code() -> None:
    found = tencent_reached(clean_modules(), boundaries.IMPORTS)
    assert found == [], "the clean family reaches Tencent-derived code:\n" + "\n".join(found)


def test_no_module_a_job_runs_imports_tencent_derived_code() -> None:
    # The command line, the service, the job room, the stages, the models: only the table reaches a family.
    starts = shared_modules()
    assert {"img23d_backend.__main__", "img23d_backend.jobs", "img23d_backend.jobs.base", "img23d_backend.jobs.loaders",
            "img23d_backend.families.table", "img23d_backend.materials.marigold.pipeline"} <= set(starts)
    found = tencent_reached(starts, boundaries.IMPORTS)
    assert found == [], "a module every job may run reaches Tencent-derived code:\n" + "\n".join(found)


def test_the_table_names_each_familys_module_and_imports_none() -> None:
    from img23d_backend.families.table import FAMILY_MODULES
    from img23d_protocol import CLEAN, HUNYUAN3D

    assert set(FAMILY_MODULES.values()) <= set(boundaries.FILES)
    assert FAMILY_MODULES[CLEAN] in clean_modules() and _is_tencent_derived(FAMILY_MODULES[HUNYUAN3D])
    table_imports = {boundaries._owner(imp.target) for imp in boundaries.IMPORTS if imp.module == "img23d_backend.families.table"}
    assert not table_imports & set(FAMILY_MODULES.values()), "the table imports a family: name its module instead"


CLEAN, SHARED = clean_modules, shared_modules
BAKE, PAINT_STEP = "img23d_backend.families.step1x.texture.bake", "img23d_backend.families.step1x.texture.paint_step"


@pytest.mark.parametrize("starts, injected, words", [
    # Directly, as bake.py did: Hunyuan's rasterizer, hy3dgen's filling.
    (CLEAN, [(BAKE, "img23d_backend.families.hunyuan3d.raster.torch_rasterizer")],
     "texture.bake -> img23d_backend.families.hunyuan3d.raster"),
    (CLEAN, [(BAKE, "img23d_backend.uv.fill.fill_texture")], "texture.bake -> img23d_backend.uv.fill"),
    # Through a neutral module the clean family uses (a new import there is caught too).
    (CLEAN, [("img23d_backend.models.placement", "img23d_backend.families.hunyuan3d.paint.with_uvs")],
     "models.placement -> img23d_backend.families.hunyuan3d.paint"),
    # hy3dgen itself, even inside a function.
    (CLEAN, [("img23d_backend.surfaces.volume", "hy3dgen.shapegen")], "surfaces.volume -> hy3dgen"),
    # From the clean family's code on through the job room's face: no module of it is passed over.
    (CLEAN, [(PAINT_STEP, "img23d_backend.jobs.Engine"), ("img23d_backend.jobs", "img23d_backend.uv.fill")],
     "texture.paint_step -> img23d_backend.jobs -> img23d_backend.uv.fill"),
    # What every job imports, as main's code did: the table importing every family, the material
    # loader taking diffusers' key fixes from the fast loaders; and the jobs' base.
    (SHARED, [("img23d_backend.families.table", "img23d_backend.families.hunyuan3d.family.FAMILY")],
     "families.table -> img23d_backend.families.hunyuan3d.family"),
    (SHARED, [("img23d_backend.materials.marigold.pipeline",
               "img23d_backend.families.hunyuan3d.fast_load.diffusers_key_fixes")],
     "marigold.pipeline -> img23d_backend.families.hunyuan3d.fast_load"),
    (SHARED, [("img23d_backend.jobs.base", "img23d_backend.families.hunyuan3d.raster")],
     "jobs.base -> img23d_backend.families.hunyuan3d.raster"),
])
def test_an_injected_import_is_caught_with_its_chain(starts, injected: list[tuple[str, str]], words: str) -> None:
    imports = [*boundaries.IMPORTS, *(boundaries.Import(module, target, 1, lazy=True) for module, target in injected)]
    found = tencent_reached(starts(), imports)
    assert found and any(words in chain for chain in found), found


def test_the_families_facts_are_data_that_reach_no_family_code() -> None:
    from img23d_backend.families.table import FACTS_MODULES

    assert set(FACTS_MODULES.values()) <= set(boundaries.FILES)
    # Every Hunyuan module a clean job may import is listed as data; its facts modules are among them.
    hunyuan = {module for module in FACTS_MODULES.values() if module.startswith("img23d_backend.families.hunyuan3d.")}
    assert hunyuan and hunyuan <= set(FAMILY_FACTS)
    found = tencent_reached(sorted(FAMILY_FACTS), boundaries.IMPORTS)
    assert found == [], "a family's facts reach its code:\n" + "\n".join(found)


def test_an_import_of_the_familys_code_from_its_facts_is_caught() -> None:
    injected = boundaries.Import("img23d_backend.families.hunyuan3d.specs", "img23d_backend.families.hunyuan3d.shape",
                                 1, lazy=False)
    found = tencent_reached(sorted(FAMILY_FACTS), [*boundaries.IMPORTS, injected])
    assert any("hunyuan3d.specs -> img23d_backend.families.hunyuan3d.shape" in chain for chain in found), found
