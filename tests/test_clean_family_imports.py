"""The licence-clean family's code imports nothing derived from Tencent-licensed code, transitively.

The clean family (``families/step1x/``: Step1X-3D's geometry, its texture model and its paint step,
the family's entry in the table; and the rasterizer ``clean_raster/``) is what img23d offers where
Tencent's licence does not reach. Starting from its modules, this follows every first-party import
(at module level or inside a function: both can run) and, for each module reached, its packages'
``__init__`` (Python runs them on import), and fails on any module of the Hunyuan family's
(``TENCENT_DERIVED``: ``raster/``, the port of Hunyuan3D's compiled rasterizer; ``families/hunyuan3d/``'s
hy3dgen-derived modules; the filling left in ``stages/paint/``; the fast loaders) or any
import of hy3dgen or its compiled extensions, and says the chain of imports that reached it.

One place the walk stops, and why: the job room's face (``jobs/__init__``: the engine) and its base
(``jobs/base``: the run every job kind shares) host both families: through the table of families
they register every family's loaders and call the family's paint step, and load a Hunyuan model
only when a job asks for one. They reach the clean family, not it them; the clean family's own code
must not import any module of the job room (a new import of one is walked like any other).

Reads the imports with ``test_boundaries``' reader (``IMPORTS``, ``FILES``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

import test_boundaries as boundaries

CLEAN_FAMILY = ("img23d_backend.families.step1x", "img23d_backend.clean_raster")
TENCENT_DERIVED = ("img23d_backend.raster", "img23d_backend.families.hunyuan3d", "img23d_backend.stages.paint.fill",
                   "img23d_backend.models.fast_load")
# hy3dgen, and the compiled extensions Hunyuan3D builds (its rasterizer and its renderer's mesh processor).
TENCENT_PACKAGES = {"hy3dgen", "custom_rasterizer", "custom_rasterizer_kernel", "differentiable_renderer",
                    "mesh_processor"}
SHARED_HOSTS = {"img23d_backend.jobs", "img23d_backend.jobs.base"}


def _is_tencent_derived(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in TENCENT_DERIVED)


def clean_modules() -> list[str]:
    return sorted(name for name in boundaries.FILES
                  if any(name == root or name.startswith(root + ".") for root in CLEAN_FAMILY))


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
            if target not in came_from and target not in SHARED_HOSTS:
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
    for expected in ("img23d_backend.families.step1x.geometry.volume", "img23d_backend.families.step1x.texture.render",
                     "img23d_backend.families.step1x.texture.bake", "img23d_backend.families.step1x.texture.atlas_fill",
                     "img23d_backend.clean_raster.rasterizer", "img23d_backend.families.step1x.texture.paint_step",
                     "img23d_backend.families.step1x.family"):
        assert expected in modules
    assert all(root in boundaries.FILES or any(m.startswith(root + ".") for m in boundaries.FILES)
               for root in TENCENT_DERIVED)


def test_the_clean_family_imports_nothing_derived_from_tencent_code() -> None:
    found = tencent_reached(clean_modules(), boundaries.IMPORTS)
    assert found == [], "the clean family reaches Tencent-derived code:\n" + "\n".join(found)


@pytest.mark.parametrize("module, target, words", [
    # Directly, as bake.py did: Hunyuan's rasterizer, hy3dgen's filling.
    ("img23d_backend.families.step1x.texture.bake", "img23d_backend.raster.torch_rasterizer",
     "texture.bake -> img23d_backend.raster"),
    ("img23d_backend.families.step1x.texture.bake", "img23d_backend.stages.paint.fill.fill_texture",
     "texture.bake -> img23d_backend.stages.paint.fill"),
    # Through a neutral module the clean family uses (a new import there is caught too).
    ("img23d_backend.models.placement", "img23d_backend.families.hunyuan3d.paint.with_uvs",
     "models.placement -> img23d_backend.families.hunyuan3d.paint"),
    # hy3dgen itself, even inside a function.
    ("img23d_backend.families.step1x.geometry.volume", "hy3dgen.shapegen", "geometry.volume -> hy3dgen"),
    # Through the job room: any module of it but its face and base is walked.
    ("img23d_backend.families.step1x.texture.paint_step", "img23d_backend.jobs.painting",
     "texture.paint_step -> img23d_backend.jobs.painting"),
])
def test_an_injected_import_is_caught_with_its_chain(module: str, target: str, words: str) -> None:
    injected = [*boundaries.IMPORTS, boundaries.Import(module, target, 1, lazy=True)]
    found = tencent_reached(clean_modules(), injected)
    assert found and any(words in chain for chain in found), found
