"""What each job's ``result`` carries, typed as its request is (the kinds of ``artifact``: ``artifacts``).

A ``Result`` line's ``data`` is one of the ``*JobResult`` classes here, chosen by the request that
started the job (``job_results.JOB_RESULTS``). ``to_dict`` writes exactly the keys older releases sent, so an
older add-on and a newer backend still agree. ``from_dict`` reads the answer of another process
(perhaps another machine): every field is checked (types, lengths) and a bad one is one sentence
with ``bad_request``; keys a newer backend adds are ignored, as ``ModelEntry.from_dict`` does.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from .completion import Completion, completions_by_name
from .messages import ModelEntry
from .errors import ProtocolError
from .run_record import FinishRecord, TargetRecord
from .result_fields import boxes, flag, items, mapping, names, number, numbers, refuse, text, whole
from .rig_bones import RigBone, validate_bones


@dataclass(frozen=True)
class AnswerSummary:
    """How the grounding model's answer ended; in a Generate or Detect result when grounding was asked."""

    stop_reason: str = ""
    cut_off: bool = False            # it reached its token budget: names past the cut may be missing
    answer_tokens: int = 0
    token_budget: int = 0
    duplicates_dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str) -> "AnswerSummary | None":
        """The summary inside a result, or None when it has none (no grounding was asked)."""
        if "stop_reason" not in data and "cut_off" not in data:
            return None
        return cls(stop_reason=text(data, what, "stop_reason"), cut_off=flag(data, what, "cut_off"),
                   answer_tokens=number(data, what, "answer_tokens"), token_budget=number(data, what, "token_budget"),
                   duplicates_dropped=number(data, what, "duplicates_dropped"))


R = TypeVar("R", bound="JobResult")

# A job's result carries its objects' run records as the run's manifest keeps them: one definition.
TargetResult = TargetRecord


def _filled(cls: type[JobResult], data: Any) -> dict[str, Any]:
    """``data`` with each key it lacks set to the wire form of its field's default (a field without
    one stays missing, and is refused as such)."""
    data = whole(cls.where(), data, "must be an object")
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    empty = cls(**dict.fromkeys(required, "")).to_dict()
    return {**{k: v for k, v in empty.items() if k not in required}, **data}


def _targets(data: dict[str, Any], what: str) -> tuple[TargetResult, ...]:
    return tuple(TargetResult.from_dict(entry) for entry in items(data, what, "targets"))


@dataclass(frozen=True)
class JobResult:
    """Base of the job results (``RunJobResult`` for those with a run folder: all but Download's).

    Only the fields without a default (the run folder; Download's model and path) must be in the data:
    a key an older or leaner backend leaves out reads as its field's default; a key that is there is checked."""

    KIND: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls: type[R], data: Any) -> R:
        """The result another process sent, every field checked (a bad one is ``bad_request``)."""
        return cls(**cls.read(_filled(cls, data), cls.where()))

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        """Each field's value, checked, from ``data`` (every key there: ``_filled``); ``what`` names the result."""
        raise NotImplementedError

    @classmethod
    def where(cls) -> str:
        """How a refusal names this result: "a generate result's 'seed' is not a whole number"."""
        return f"a {cls.KIND} result"


@dataclass(frozen=True)
class RunJobResult(JobResult):
    """Base of the results of the jobs that make a run folder (all but Download)."""

    run_dir: str


@dataclass(frozen=True)
class GenerateJobResult(RunJobResult):
    KIND: ClassVar[str] = "generate"
    manifest: str = ""
    layout_picture: str | None = None   # named so that an add-on on another machine fetches it
    image_size: list[int] = field(default_factory=list)
    targets: tuple[TargetResult, ...] = ()
    texture_skipped: str | None = None  # one sentence when the job went on without textures
    depth_skipped: str | None = None    # one sentence when objects were placed by their boxes
    # (1.15) one sentence when the painted objects kept their colour textures without material maps
    materials_skipped: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    answer: AnswerSummary | None = None
    seed: int = 0
    # (1.19) one sentence when views were given and the shape model took the front picture alone
    # (``views.CLEAN_FAMILY_VIEWS``: the clean family has no multi-view shape model)
    views_shape_skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "manifest": self.manifest, "layout_picture": self.layout_picture,
                "image_size": list(self.image_size), "targets": [t.to_dict() for t in self.targets],
                "texture_skipped": self.texture_skipped, "depth_skipped": self.depth_skipped,
                "materials_skipped": self.materials_skipped, "views_shape_skipped": self.views_shape_skipped,
                "timings": dict(self.timings), **(self.answer.to_dict() if self.answer else {}), "seed": self.seed}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(run_dir=text(data, what, "run_dir"), manifest=text(data, what, "manifest"),
                    layout_picture=text(data, what, "layout_picture", None),
                    image_size=numbers(data, what, "image_size"), targets=_targets(data, what),
                    texture_skipped=text(data, what, "texture_skipped", None),
                    depth_skipped=text(data, what, "depth_skipped", None),
                    materials_skipped=text(data, what, "materials_skipped", None),
                    timings=mapping(data, what, "timings"), answer=AnswerSummary.from_dict(data, what),
                    seed=number(data, what, "seed"),
                    views_shape_skipped=text(data, what, "views_shape_skipped", None))


@dataclass(frozen=True)
class DetectJobResult(RunJobResult):
    KIND: ClassVar[str] = "detect"
    image_size: list[int] = field(default_factory=list)
    boxes: dict[str, list[list[float]]] = field(default_factory=dict)  # name -> boxes, pixels of the picture
    not_found: list[str] = field(default_factory=list)
    answer: AnswerSummary | None = None
    seed: int = 0
    # (1.17) With complete_hidden other than never: each name's targets judged and completed as a Generate
    # would (one Completion per box, in the order of ``boxes``), and the picture showing each cut-out beside
    # its completed one (completion.png, also announced as a "completion" artifact). Empty and None otherwise.
    completion: dict[str, list[Completion]] = field(default_factory=dict)
    completion_picture: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "image_size": list(self.image_size), "boxes": self.boxes,
                "not_found": list(self.not_found), **(self.answer.to_dict() if self.answer else {}), "seed": self.seed,
                "completion": {name: [c.to_dict() for c in records] for name, records in self.completion.items()},
                "completion_picture": self.completion_picture}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(run_dir=text(data, what, "run_dir"), image_size=numbers(data, what, "image_size"),
                    boxes=boxes(data, what), not_found=names(data, what, "not_found"),
                    answer=AnswerSummary.from_dict(data, what), seed=number(data, what, "seed"),
                    completion=completions_by_name(data, what),
                    completion_picture=text(data, what, "completion_picture", None))


@dataclass(frozen=True)
class SuggestJobResult(RunJobResult):
    KIND: ClassVar[str] = "suggest"
    image_size: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    boxes: dict[str, list[list[float]]] = field(default_factory=dict)
    all_instances: bool = False         # some name was seen more than once: ask for every instance
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "image_size": list(self.image_size), "names": list(self.names),
                "boxes": self.boxes, "all_instances": self.all_instances, "seed": self.seed}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(run_dir=text(data, what, "run_dir"), image_size=numbers(data, what, "image_size"),
                    names=names(data, what, "names"), boxes=boxes(data, what),
                    all_instances=flag(data, what, "all_instances"), seed=number(data, what, "seed"))


@dataclass(frozen=True)
class RetextureJobResult(RunJobResult):
    KIND: ClassVar[str] = "retexture"
    texture: str = ""                   # the painted texture, on the mesh's own UVs (or ``uvs``)
    uvs: str | None = None              # new per-corner UVs when the mesh had none
    uv_created: bool = False
    proxy: bool = False                 # painted through a reduced stand-in mesh
    faces: int = 0
    texture_size: list[int] = field(default_factory=list)
    seed: int = 0
    # (1.16) glTF's metallicRoughness texture (G roughness, B metallic) on the same UVs as ``texture``,
    # or None when the material maps were off or skipped (``materials_skipped`` says why)
    metallic_roughness: str | None = None
    materials_skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "texture": self.texture, "uvs": self.uvs, "uv_created": self.uv_created,
                "proxy": self.proxy, "faces": self.faces, "texture_size": list(self.texture_size), "seed": self.seed,
                "metallic_roughness": self.metallic_roughness, "materials_skipped": self.materials_skipped}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(run_dir=text(data, what, "run_dir"), texture=text(data, what, "texture"),
                    uvs=text(data, what, "uvs", None), uv_created=flag(data, what, "uv_created"),
                    proxy=flag(data, what, "proxy"), faces=number(data, what, "faces"),
                    texture_size=numbers(data, what, "texture_size"), seed=number(data, what, "seed"),
                    metallic_roughness=text(data, what, "metallic_roughness", None),
                    materials_skipped=text(data, what, "materials_skipped", None))


@dataclass(frozen=True)
class RetopoJobResult(RunJobResult):
    KIND: ClassVar[str] = "retopo"
    manifest: str = ""
    mesh: str = ""                      # the finished (low) GLB
    high_mesh: str = ""                 # the mesh as it came, as a GLB
    finish: FinishRecord | None = None  # method, faces in and out, quads, fallback...
    targets: tuple[TargetResult, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "manifest": self.manifest, "mesh": self.mesh, "high_mesh": self.high_mesh,
                "finish": self.finish.to_dict() if self.finish else {}, "targets": [t.to_dict() for t in self.targets], "timings": dict(self.timings),
                "seed": self.seed}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(run_dir=text(data, what, "run_dir"), manifest=text(data, what, "manifest"),
                    mesh=text(data, what, "mesh"), high_mesh=text(data, what, "high_mesh"),
                    finish=_finish(mapping(data, what, "finish")),
                    targets=_targets(data, what),
                    timings=mapping(data, what, "timings"), seed=number(data, what, "seed"))


@dataclass(frozen=True)
class PartResult:
    """(1.21) One part of a parts job: its GLB (relative to the run folder; None when no face went to it)."""

    name: str
    mesh: str | None = None
    faces: int = 0                      # the input's faces it holds
    cap_faces: int = 0                  # triangles added to close its cuts
    closed: bool = False
    empty_reason: str | None = None     # the sentence why it is empty

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any, what: str) -> "PartResult":
        data = whole(what, data, "must be an object")
        return cls(name=text(data, what, "name"), mesh=text(data, what, "mesh", None),
                   faces=number(data, what, "faces"), cap_faces=number(data, what, "cap_faces"),
                   closed=flag(data, what, "closed"), empty_reason=text(data, what, "empty_reason", None))


@dataclass(frozen=True)
class PartsJobResult(RunJobResult):
    KIND: ClassVar[str] = "parts"
    manifest: str = ""
    combined: str | None = None         # every part in one GLB, each a node named after it
    parts: tuple[PartResult, ...] = ()  # in the order of the request's names
    faces: int = 0                      # the input's
    note: str = ""                      # what the parts are made of (no hidden geometry invented)
    timings: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    model: str = ""                     # (1.22) the parts model that drew them ("" for a split by names)
    licence: str = ""                   # (1.22) its licence's name, which the parts carry too
    mask: str | None = None             # (1.22) the part mask the model was given, coloured (relative), if any

    @property
    def empty(self) -> list[PartResult]:
        return [part for part in self.parts if part.mesh is None]

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "manifest": self.manifest, "combined": self.combined,
                "parts": [part.to_dict() for part in self.parts], "faces": self.faces, "note": self.note,
                "timings": dict(self.timings), "seed": self.seed, "model": self.model, "licence": self.licence,
                "mask": self.mask}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(run_dir=text(data, what, "run_dir"), manifest=text(data, what, "manifest"),
                    combined=text(data, what, "combined", None),
                    model=text(data, what, "model", ""), licence=text(data, what, "licence", ""),
                    mask=text(data, what, "mask", None),
                    parts=tuple(PartResult.from_dict(entry, f"{what}'s part")
                                for entry in items(data, what, "parts")),
                    faces=number(data, what, "faces"), note=text(data, what, "note"),
                    timings=mapping(data, what, "timings"), seed=number(data, what, "seed"))


@dataclass(frozen=True)
class RigJobResult(RunJobResult):
    """(1.22) A rig: the rigged GLB (a glTF skin on the input's mesh), each vertex's four strongest bones and
    weights in the input's vertex order (``weights``: an .npz of ``joints`` and ``weights``, each (V, 4)), the
    bones in the mesh's own space, where the skeleton came from and what was said. Paths relative to the run."""

    KIND: ClassVar[str] = "rig"
    manifest: str = ""
    rigged: str = ""
    weights: str = ""
    bones: tuple[RigBone, ...] = ()
    source: str = ""                    # "given", "shape" or "single bone"
    humanoid: bool = False              # named as Mixamo names a humanoid's bones
    vertices: int = 0
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    lods: tuple[str, ...] = ()          # (1.24) each ``also`` mesh rigged, in the request's order

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "manifest": self.manifest, "rigged": self.rigged, "weights": self.weights,
                "bones": [bone.to_dict() for bone in self.bones], "source": self.source, "humanoid": self.humanoid,
                "vertices": self.vertices, "notes": list(self.notes), "timings": dict(self.timings),
                "lods": list(self.lods)}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        notes = items(data, what, "notes", [])
        if not all(isinstance(note, str) for note in notes):
            raise refuse(what, "notes", "is not a list of sentences")
        lods = items(data, what, "lods", [])
        if not all(isinstance(lod, str) for lod in lods):
            raise refuse(what, "lods", "is not a list of files")
        try:
            bones = tuple(validate_bones(data.get("bones", [])))
        except ProtocolError as exc:
            raise refuse(what, "bones", f"is not a list of bones ({exc.message})") from None
        return dict(run_dir=text(data, what, "run_dir"), manifest=text(data, what, "manifest"),
                    rigged=text(data, what, "rigged"), weights=text(data, what, "weights", ""), bones=bones,
                    source=text(data, what, "source", ""), humanoid=flag(data, what, "humanoid", False),
                    vertices=number(data, what, "vertices", 0), notes=tuple(notes),
                    timings=mapping(data, what, "timings", {}), lods=tuple(lods))


@dataclass(frozen=True)
class RegenerateJobResult(RunJobResult):
    KIND: ClassVar[str] = "regenerate"
    source_run: str = ""                # the Generate run whose cut-outs were used
    manifest: str = ""
    image_size: list[int] | None = None
    targets: tuple[TargetResult, ...] = ()
    texture_skipped: str | None = None
    materials_skipped: str | None = None  # (1.15) as GenerateJobResult's
    timings: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "source_run": self.source_run, "manifest": self.manifest,
                "image_size": None if self.image_size is None else list(self.image_size),
                "targets": [t.to_dict() for t in self.targets], "texture_skipped": self.texture_skipped,
                "materials_skipped": self.materials_skipped, "timings": dict(self.timings), "seed": self.seed}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(run_dir=text(data, what, "run_dir"), source_run=text(data, what, "source_run"),
                    manifest=text(data, what, "manifest"), image_size=numbers(data, what, "image_size", None),
                    targets=_targets(data, what), texture_skipped=text(data, what, "texture_skipped", None),
                    materials_skipped=text(data, what, "materials_skipped", None),
                    timings=mapping(data, what, "timings"), seed=number(data, what, "seed"))


@dataclass(frozen=True)
class DownloadJobResult(JobResult):
    KIND: ClassVar[str] = "download"
    model: str                          # the model's id
    path: str                           # its folder on the backend
    models: tuple[ModelEntry, ...] = ()  # the refreshed model list
    offline: bool = False
    cache_dir: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "path": self.path, "models": [m.to_dict() for m in self.models],
                "offline": self.offline, "cache_dir": self.cache_dir}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        return dict(model=text(data, what, "model"), path=text(data, what, "path"),
                    models=tuple(ModelEntry.from_dict(m) for m in items(data, what, "models")),
                    offline=flag(data, what, "offline"), cache_dir=text(data, what, "cache_dir"))


def _finish(data: dict[str, Any]) -> FinishRecord | None:
    """A retopo result's finish; a result without one (a lean backend's ``{}``) has None."""
    return FinishRecord.from_dict(data) if data else None

