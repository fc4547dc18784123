"""The model sets: each role's models and the named sets (``model_set``, ``tiny_model_set``), composed.

Above the model rooms: the families bring their rows (``families/<family>/specs.py``, found through
``families.table.facts_of`` without importing a family's code), the registry the rows every family
shares (grounding, matting, depth, the material model, the image editors: each room's table), and
this module puts them together. A family added to the table appears here with no change to this
module; nothing below it (models, stages, families) imports it (tests/test_family_boundary.py).

``tiny`` points at the random-weight replicas built offline by ``img23d_backend.replicas``; every
other set names Hugging Face repositories that are downloaded on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from img23d_protocol import (DEFAULT_DEPTH_MODEL, DEFAULT_FAMILY, DEFAULT_GROUNDING_MODEL, DEFAULT_MATTING_MODEL,
                             DEFAULT_PAINT_MODEL, ErrorCode, ProtocolError, model_family)

from .env.lazy_table import TableView
from .families.facts import ROW_ROLES, FamilyFacts
from .families.table import FAMILIES, facts_of
# Everything the registry held is found here too: the rest of the backend reads the models from the catalog.
from .models.registry import (PAINT_ROLES, ROLES, PARTS_ROLE, SCENE_ROLES, TINY_FORMAT, VIEWS_ROLE,  # noqa: F401
                              ModelSet, ModelSpec, default_tiny_root, paint_steps, shape_kind, shape_steps)
# The models every job uses, each in its room: their rows by choice name.
from .depth.table import DEFAULT_DEPTH, DEPTH_ROWS, UNKEYED_DEPTH
from .grounding.table import DEFAULT_GROUNDING, GROUNDING_ROWS
from .matting.table import DEFAULT_MATTING, MATTING_ROWS, tiny_matting
# The image editors and the material models, each in its room: their rows by choice name.
from .editors.table import DEFAULT_EDITOR, EDITOR_ROWS, tiny_editor
from .materials.table import DEFAULT_MATERIALS, MATERIAL_ROWS
from .parts.table import DEFAULT_PARTS, PARTS_ROWS
from .rigging.table import RIGGER_ROWS


class _FamilyRows(Mapping[str, ModelSpec]):
    """Every family's models of ``role`` by name, in the table's order (``choices``: only the names each family
    offers as a --paint choice), read from the families' facts when asked."""

    def __init__(self, role: str, choices: bool = False) -> None:
        self._role, self._choices = role, choices

    def _rows(self) -> dict[str, ModelSpec]:
        rows: dict[str, ModelSpec] = {}
        for facts in FAMILY_FACTS.values():
            own = facts.rows.get(self._role, {})
            rows.update({name: own[name] for name in facts.paint_choices} if self._choices else own)
        return rows

    def __getitem__(self, name: str) -> ModelSpec:
        return self._rows()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())


# Each family's facts, read from the table when asked: a family the table gains after the catalog is imported (a
# test's second family) is offered as the others, where a copy made on import missed it.
FAMILY_FACTS: Mapping[str, FamilyFacts] = TableView(FAMILIES, facts_of)


def _specs(rows: Mapping[str, Any]) -> Mapping[str, ModelSpec]:
    """A room's specs by choice name, read from its table's rows when asked: a model the table gains after the
    catalog is imported (a test's second model) is offered as the others, where a copy made on import missed it."""
    return TableView(rows, lambda name: rows[name].spec)


# Keyed as the other roles' tables, by the rooms' choice names (``models download editor/<name>``).
GROUNDING: Mapping[str, ModelSpec] = _specs(GROUNDING_ROWS)
MATTING: Mapping[str, ModelSpec] = _specs(MATTING_ROWS)
DEPTH: Mapping[str, ModelSpec] = _specs(DEPTH_ROWS)
MATERIALS: Mapping[str, ModelSpec] = _specs(MATERIAL_ROWS)
EDITORS: Mapping[str, ModelSpec] = _specs(EDITOR_ROWS)
PARTS: Mapping[str, ModelSpec] = _specs(PARTS_ROWS)
# The riggers that run a model, by their --weights choice (``rig --weights model``: SkinTokens).
RIGGING: Mapping[str, ModelSpec] = _specs(RIGGER_ROWS)


# Each role a family brings -> its models by name, every family's (what the model list shows).
FAMILY_ROWS: dict[str, Mapping[str, ModelSpec]] = {role: _FamilyRows(role) for role in ROW_ROLES}
# Keyed by the protocol's shape model names: their kinds (steps, guidance) are decided there.
SHAPE = FAMILY_ROWS["shape"]
# The --paint choices (a family with one paint model of its own offers none).
PAINT: Mapping[str, ModelSpec] = _FamilyRows("paint", choices=True)

# Every table of models img23d offers, by the role its models are listed under (``models``: role/choice, what
# ``models download`` takes): the shared ones, each family's roles, each room's. A room whose table is not here
# cannot be listed or downloaded before its first job (tests/backend/models/test_model_tables.py).
MODEL_TABLES: tuple[tuple[str, Mapping[str, ModelSpec]], ...] = (
    ("grounding", GROUNDING), ("matting", MATTING), *FAMILY_ROWS.items(), ("depth", DEPTH),
    ("materials", MATERIALS), ("editor", EDITORS), ("parts", PARTS), ("rigging", RIGGING))

# The default family's own shape model (its turbo one: made for 5 steps, the fast path with FlashVDM).
DEFAULT_SHAPE = model_family(DEFAULT_FAMILY).shape
# Turbo: 10 steps without a guidance batch, upstream's default paint model since April 2025.
DEFAULT_PAINT = DEFAULT_PAINT_MODEL
MODEL_SET_NAMES = ("default", "tiny")

# Each family's texture models in a real set, by the --paint choice: (delight, paint); and its tiny
# replica set: (root, --paint choice, --shape choice) -> the set. Keyed by img23d_protocol.MODEL_FAMILIES,
# as each table here that a family fills (tests/backend/families/test_families.py holds them to it).
TEXTURE_MODELS: Mapping[str, Callable[[str], tuple[ModelSpec | None, ModelSpec]]] = TableView(
    FAMILIES, lambda name: facts_of(name).texture)


def views_spec(shape: ModelSpec) -> ModelSpec | None:
    """The model that shapes a name with views when ``shape`` is the job's shape model: the views
    model its kind names; None where ``shape`` takes views itself (it shapes every name) or its
    family has no such model."""
    kind = shape.shape_kind
    if kind is None or kind.views or kind.views_model is None:
        return None
    # Its own role: the manager keys each model by its spec's role, beside the single-view one.
    return replace(SHAPE[kind.views_model], role=VIEWS_ROLE)


def check_labels(spec: ModelSpec, symmetry: str, sharpness: str) -> None:
    """Refuse a symmetry or sharpness (other than "auto") for a shape model that takes no label."""
    if (symmetry, sharpness) != ("auto", "auto") and not shape_kind(spec).labels:
        labelled = [name for name, spec_ in SHAPE.items() if shape_kind(spec_).labels]
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"symmetry and sharpness need a shape model that takes labels "
                            f"({', '.join(labelled)}); {shape_kind(spec).label} takes none, so leave them at auto")


def _shared_tiny_set(root: Path, editor: str) -> Mapping[str, ModelSpec]:
    """The replicas every tiny set has (grounding, matting, depth, the material model, the editor)."""
    return dict(
        grounding=GROUNDING_ROWS[DEFAULT_GROUNDING].tiny_spec(root),
        matting=tiny_matting(root),
        depth=DEPTH_ROWS[DEFAULT_DEPTH].tiny_spec(root),
        materials=MATERIAL_ROWS[DEFAULT_MATERIALS].tiny_spec(root),
        editor=tiny_editor(root, editor),
    )


def _tiny_set(family: str) -> Callable[[Path, str, str | None], ModelSet]:
    def tiny(root: Path, paint: str, shape: str | None) -> ModelSet:
        models = FAMILY_FACTS[family].tiny(root, paint, shape)
        return ModelSet(name="tiny", shape=models.shape, shape_views=models.shape_views, delight=models.delight,
                        paint=models.paint, **_shared_tiny_set(root, DEFAULT_EDITOR))
    return tiny


TINY_SETS: Mapping[str, Callable[[Path, str, str | None], ModelSet]] = TableView(FAMILIES, _tiny_set)


def tiny_model_set(root: Path, paint: str = DEFAULT_PAINT, family: str = DEFAULT_FAMILY,
                   shape: str | None = None, editor: str = DEFAULT_EDITOR, matting: str = DEFAULT_MATTING,
                   parts: str | None = None, depth: str = DEFAULT_DEPTH) -> ModelSet:
    """The offline replicas under ``root`` (see ``img23d_backend.replicas``), loaded by the same code;
    ``paint`` picks the paint model's replica (both are built), ``family`` the shape model's, a
    ``shape`` that takes labels (the Label model, or its tiny name) the Label model's replica,
    ``editor`` the image editor's, ``matting`` the matting model's and ``depth`` the depth model's (each of
    them is built);
    ``parts`` the parts model's, for a job that makes parts (None leaves it out, as ``model_set`` does:
    a Generate registers no parts model it never uses)."""
    for role, choice, table in (("paint", paint, PAINT), ("editor", editor, EDITORS), ("matting", matting, MATTING),
                                ("depth", depth, DEPTH)):
        if choice not in table:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"unknown {role} model {choice!r}; choose from {', '.join(table)}")
    if parts is not None and parts not in PARTS_ROWS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown parts model {parts!r}; choose from {', '.join(PARTS_ROWS)}")
    return replace(TINY_SETS[model_family(family).name](root, paint, shape), editor=tiny_editor(root, editor),
                   matting=tiny_matting(root, matting), depth=DEPTH_ROWS[depth].tiny_spec(root),
                   parts=PARTS_ROWS[parts].tiny_spec(root) if parts is not None else None)


def tiny_root_of(models: ModelSet) -> Path | None:
    """The folder a tiny set's replicas share (its matting model's parent); None for another set."""
    if models.name == "tiny" and models.matting.local_path is not None:
        return Path(models.matting.local_path).parent
    return None


def parts_spec_for(models: ModelSet, parts: str = DEFAULT_PARTS) -> ModelSpec | None:
    """The parts model a backend started without one registers when a parts job first asks: the set's own,
    else the real model for the default set and its replica for the tiny set; None for any other set."""
    if models.parts is not None:
        return models.parts
    if models.name == "default":
        return PARTS[parts]
    root = tiny_root_of(models)
    return PARTS_ROWS[parts].tiny_spec(root) if root is not None else None


def model_set(name: str, grounding: str = DEFAULT_GROUNDING, matting: str = DEFAULT_MATTING,
              shape: str | None = None, tiny_root: Path | None = None,
              paint: str = DEFAULT_PAINT, depth: str = DEFAULT_DEPTH, family: str | None = None,
              materials: str = DEFAULT_MATERIALS, editor: str = DEFAULT_EDITOR,
              parts: str | None = None) -> ModelSet:
    """Resolve a model-set name (and per-role choices for real sets) into specs. ``family``
    decides the shape model (``shape`` may pick another of the same family; without a family,
    the shape model's decides) and its texture models: Hunyuan3D-Paint's delight and paint models, or
    the licence-clean family's one paint model (no delight: upstream's chain has none). ``parts`` names a
    parts model (``PARTS``) for a job that makes parts; None leaves it out. A Generate never uses one, and the
    only parts model is not pinned (no revision of its gated repository could be verified), while every model
    of a Generate's set is (tests/backend/models/test_pins.py); the tiny set always has its replica."""
    if family is None:
        family = shape_kind(SHAPE[shape]).family if shape in SHAPE else DEFAULT_FAMILY
    chosen = model_family(family)
    if name == "tiny":
        return tiny_model_set(tiny_root or default_tiny_root(), paint=paint, family=family, shape=shape, editor=editor,
                              matting=matting, parts=parts, depth=depth)
    if name != "default":
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"unknown model set {name!r}; choose from {', '.join(MODEL_SET_NAMES)}")
    shape = shape or chosen.shape
    in_family = [n for n, spec in SHAPE.items() if shape_kind(spec).family == chosen.name]
    if shape in SHAPE and shape not in in_family:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"shape model {shape!r} is not in the family {chosen.name!r} "
                            f"({chosen.label}); choose from {', '.join(in_family)}")
    for role, choice, table in (("grounding", grounding, GROUNDING), ("matting", matting, MATTING),
                                ("shape", shape, SHAPE), ("paint", paint, PAINT), ("depth", depth, DEPTH),
                                ("materials", materials, MATERIALS), ("editor", editor, EDITORS),
                                *(((PARTS_ROLE, parts, PARTS),) if parts is not None else ())):
        if choice not in table:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"unknown {role} model {choice!r}; choose from {', '.join(table)}")
    delight, paint_spec = TEXTURE_MODELS[chosen.name](paint)
    return ModelSet(name="default", grounding=GROUNDING[grounding], matting=MATTING[matting],
                    shape=SHAPE[shape], delight=delight, paint=paint_spec, depth=DEPTH[depth],
                    materials=MATERIALS[materials], editor=EDITORS[editor], shape_views=views_spec(SHAPE[shape]),
                    parts=PARTS[parts] if parts is not None else None)


# Which models a job runs, and on which device: light (no model library), so the batch driver reads them and
# holds no torch; only the engines (``session.make_engine``) load what they name.
@dataclass(frozen=True)
class Models:
    """Which models, on which device: the command line's --models, --family, --grounding, --shape,
    --paint, --matting, --depth, --editor, --device, --budget-gb, --memory-cap-gb, --offline and --accept-licence."""

    models: str = "default"           # "default": real weights from the hub; "tiny": offline replicas
    grounding: str = DEFAULT_GROUNDING_MODEL
    shape: str | None = None          # None: the family's own
    family: str | None = None         # "hunyuan3d" or "clean" (Step1X-3D, Apache-2.0); None: the shape's, else hunyuan3d
    matting: str = DEFAULT_MATTING_MODEL
    depth: str = DEFAULT_DEPTH_MODEL  # the depth model (--depth): a relative one, or a metric one (docs/models.md)
    paint: str = DEFAULT_PAINT        # the texture's paint model: "2.0-turbo" or "2.0"
    editor: str = DEFAULT_EDITOR      # the image editor: "flux2-klein-4b" or "qwen-image-edit-2511" (large GPUs)
    device: str = "auto"              # auto, cuda, cuda:N, mps or cpu
    # Roles on another device than ``device`` (--device-for): (("grounding", "cpu"),).
    device_for: tuple[tuple[str, str], ...] = ()
    budget_gb: float | None = None    # device memory the models may use; None: free minus a reserve
    memory_cap_gb: float | None = None  # device memory the whole process may use (models/memory_cap.py)
    offline: bool = False             # never download
    # Accept the licences of these models that restrict territory or use (Hunyuan3D-2's): without
    # it such a model that is not downloaded yet is refused and nothing is downloaded.
    accept_licence: bool = False
    parts: str | None = None          # the parts model a parts job draws with (None: a set without one)

    @classmethod
    def from_args(cls, args: Any) -> "Models":
        """The models a command's common options name (``cli.build_parser``'s ``common``)."""
        return cls(models=args.models, grounding=args.grounding, shape=args.shape, family=args.family,
                   matting=args.matting, depth=getattr(args, "depth", DEFAULT_DEPTH_MODEL), paint=args.paint,
                   editor=args.editor, device=args.device,
                   device_for=tuple(getattr(args, "device_for", None) or ()), budget_gb=args.budget_gb,
                   memory_cap_gb=getattr(args, "memory_cap_gb", None),
                   offline=args.offline, accept_licence=args.accept_licence,
                   parts=getattr(args, "parts_model", None))

    def describe(self) -> dict[str, Any]:
        """What decides the meshes (not where they are made): part of a batch's options key."""
        return {"models": self.models, "family": self.family, "grounding": self.grounding, "shape": self.shape,
                "matting": self.matting, "paint": self.paint,
                # Named only when not the default, so batches keyed before there was a choice resume.
                **({"editor": self.editor} if self.editor != DEFAULT_EDITOR else {}),
                # A batch keyed without a depth ran the depth model of before --depth (``UNKEYED_DEPTH``).
                **({"depth": self.depth} if self.depth != UNKEYED_DEPTH else {})}
