"""What a model is to the chain: ``ModelSpec`` (one model: where its files come from, its size, its
kind) and ``ModelSet`` (one model per role). The registry (``registry``) fills them in. And
``ModelReplica``: how the replica sets build one swappable model's random-weight replica (an image
editor's, a material model's), kept here so that a room's interface names it without importing the
replica builders' helpers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from img23d_protocol import ErrorCode, ModelLicence, PaintModelKind, ProtocolError, ShapeModelKind, model_licence

ROLES = ("grounding", "matting", "shape")
# The model manager's role for the shape model of names with views: a job with names with and without
# views holds both shape models, each loaded and offloaded by the manager as the other's stage needs the room.
VIEWS_ROLE = "shape_views"


@dataclass(frozen=True)
class ModelSpec:
    """One model: where its files come from and roughly how much device memory it takes."""

    role: str
    repo_id: str                          # Hugging Face id, or a label for local models
    revision: str | None = None           # the pinned commit (every hub model has one)
    subfolder: str | None = None          # hy3dgen keeps each variant in a subfolder
    allow_patterns: tuple[str, ...] = ()  # only these files are downloaded
    local_path: Path | None = None        # a folder on disk: no hub involved
    size_bytes: int = 0                   # estimate in the device dtype, before it is measured
    trust_remote_code: bool = False
    # Environment probes (``env_probe``) this model's code needs beyond the general ones, run
    # before its first load: a torchvision whose compiled ops do not match torch fails there.
    probes: tuple[str, ...] = ()
    # A shape model's kind (img23d_protocol.SHAPE_MODELS): its own steps and how it is guided.
    shape_kind: ShapeModelKind | None = None
    # A shape model's FlashVDM VAE: the subfolder (same repository, same pinned revision) of the
    # distilled VAE that FlashVDM decoding uses in place of the DiT folder's own.
    flashvdm_vae: str | None = None
    # A paint model's kind (img23d_protocol.PAINT_MODELS): its own steps, and whether it is turbo.
    paint_kind: PaintModelKind | None = None
    # Further pinned repositories the model reads beside this one (the clean paint model: SDXL base
    # and the fp16-fix VAE beside Step1X-3D's adapter), each a spec of its own (repository, revision,
    # files, or a local folder). Download, cache listing, completeness and deleting see every part.
    sources: tuple["ModelSpec", ...] = ()
    # A model with no kind of its own that one family brings (Hunyuan3D-2's delight model): that
    # family's name (img23d_protocol.MODEL_FAMILIES). A shape or paint model's family is its kind's.
    brought_by: str | None = None
    # Its allow_patterns name every file its loader opens, with no wildcard: its folder is complete
    # when each is there (the licence-clean family's models). Otherwise ``completeness`` reads the
    # folder as the loader's library would.
    exact_files: bool = False
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def family(self) -> str | None:
        """The model family whose code loads and runs this model (``families.table.family_of``);
        None for a model every family shares (grounding, matting, depth)."""
        kind = self.shape_kind or self.paint_kind
        return kind.family if kind is not None else self.brought_by

    @property
    def parts(self) -> tuple["ModelSpec", ...]:
        """This spec and its further sources: every repository the model's files come from."""
        return (self, *self.sources)

    @property
    def licence(self) -> ModelLicence | None:
        """Its licence, from the table both sides share (``img23d_protocol.licences``), keyed by
        ``repo_id``; every model of every set has one (tests/backend/models/test_licences.py)."""
        return model_licence(self.repo_id)

    def tiny_replica(self, folder: Path, size_bytes: int, options: Mapping[str, Any] | None = None) -> "ModelSpec":
        """Its random-weight replica in ``folder``: the real folder's layout and files (each one named,
        ``exact_files``), ``size_bytes`` big, run with ``options`` (its own where None)."""
        return ModelSpec(role=self.role, repo_id=f"tiny/{folder.name}", local_path=folder,
                         allow_patterns=self.allow_patterns, size_bytes=size_bytes, exact_files=True,
                         options=dict(self.options if options is None else options))

    def full_size_replica(self, folder: Path) -> "ModelSpec":
        """Its full-size replica in ``folder``: the tiny one's layout with the real model's size and options."""
        return replace(self.tiny_replica(folder, self.size_bytes), repo_id=f"full-size/{folder.name}")

    @property
    def display(self) -> str:
        name = self.repo_id + (f"/{self.subfolder}" if self.subfolder else "")
        return name + (f"@{self.revision[:10]}" if self.revision else "")


@dataclass(frozen=True)
class ModelSet:
    name: str
    grounding: ModelSpec
    matting: ModelSpec
    shape: ModelSpec
    delight: ModelSpec | None = None  # None: this set cannot paint textures
    paint: ModelSpec | None = None
    depth: ModelSpec | None = None    # None: objects are laid out by their boxes alone
    materials: ModelSpec | None = None  # roughness and metallic maps from painted views (none: colour only)
    editor: ModelSpec | None = None   # an image editor that fills in what is hidden (none: crops as they are)
    # The shape model of the names that have views (a family's views model: families/hunyuan3d/mv_specs.py); None where
    # the shape model takes views itself or its family has none: those names are shaped by ``shape``.
    shape_views: ModelSpec | None = None
    # A parts model: one object's parts as separate meshes (``parts/``; a ``parts`` job's, none elsewhere).
    parts: ModelSpec | None = None

    def spec(self, role: str) -> ModelSpec:
        spec = getattr(self, role)
        if spec is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"model set {self.name!r} has no {role} model")
        return spec

    def describe(self) -> dict[str, str]:
        return {role: self.spec(role).display for role in ROLES}

    def families(self) -> tuple[str, ...]:
        """The model families whose code runs this set's models (``ModelSpec.family``), each once."""
        specs = (getattr(self, role.name) for role in fields(self) if role.name != "name")
        return tuple(dict.fromkeys(spec.family for spec in specs if spec is not None and spec.family is not None))


@dataclass(frozen=True)
class ModelReplica:
    """One model's random-weight replica as the tiny and full-size sets build it: its folder written
    at a size, and its full-size parts for the size check."""

    # (folder, size: "tiny" or "full") -> (the manifest entry, the seed it was made with)
    build: Callable[[Path, str], tuple[dict[str, Any], int]]
    construct: Callable[[], Mapping[str, Any]]   # its full-size parts, in the current device context
    published_params: Mapping[str, float]        # the published parameter counts of its parts


@dataclass(frozen=True)
class ModelCode:
    """What every room's model code has, as its room's driver calls it: its name, the manager's loader for its
    spec (``models.manager.Loader``; a parts model's, ``models.handles.PartLoaders``) and its replica. Each room's
    class adds its own call (a grounder's ``ask``, a matter's ``predict``, a parts generator's ``generate``)."""

    name: str
    loader: Callable[[ModelSpec], Any]
    replica: ModelReplica
