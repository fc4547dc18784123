"""What a run keeps about each of its objects: the one definition of a target's record and of its finish.

The backend's run folder (``runs/folders.py``) writes a ``TargetRecord`` per object into the run's
manifest (``run_manifest``), and a job's result carries the same records (``TargetResult`` is this
class); the add-on, the client and the backend's own readers (Re-layout, Regenerate, Import Run)
read them back through ``from_dict``. ``FinishRecord`` is the record's ``finish``: what the
retopology and the bake made of the object (``jobs/finishing.py``).

``to_dict`` writes the keys in the order the run folder has always written them, so a manifest
written through these types is the same JSON as before they existed. ``from_dict`` reads data
another process (perhaps another machine, perhaps an older or newer img23d) wrote: a key an older
writer left out takes its default, a key a newer one added is ignored, and a wrong type is one
sentence (``ProtocolError``, ``bad_request``) naming the key, never a ``KeyError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .completion import Completion
from .plain import finite_number
from .result_fields import MAX_ITEMS, MAX_TEXT, flag, items, mapping, number, refuse, text, whole
from .target_parts import TargetParts

# A box's coordinates are the picture's pixels: a picture img23d reads (600 million pixels at most, no side over
# 200 times the other) has no side near this. Past it a record is damaged, and the layout's squares overflow.
MAX_BOX_COORD = float(1 << 20)


@dataclass
class FinishRecord:
    """One object's finish (``JobOptions.topology`` other than as-generated): what was asked, what was
    made, the fallback sentence when quads were asked and not made, the bake, and the seconds. Its
    ``mesh`` is then the finished (low) mesh and ``high_mesh`` the generated one, in the run folder."""

    topology: str = ""
    target: int | None = None          # the face target asked for
    method: str = ""                   # "quadric" or "instant-meshes"
    faces_in: int = 0
    faces_out: int = 0                 # a quad counts as one face
    quads: int = 0                     # how many of them are quads
    fallback: str | None = None        # the one sentence said when quads were asked for and not made
    bake_size: int = 0
    coloured: bool = False             # its colour was baked (the high mesh had one)
    metallic_roughness: bool = False   # its metallicRoughness texture was baked
    texels_by_nearest: int = 0
    texels: int = 0
    high_mesh: str = ""                # the generated mesh, relative to the run folder
    # (1.20) the finished GLB's materials, in order, where the mesh file had several (retopo keeps them)
    materials: list[str] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "FinishRecord":
        what = "a target record's finish"
        data = whole(what, data)
        return cls(topology=text(data, what, "topology", ""), target=number(data, what, "target", None),
                   method=text(data, what, "method", ""), faces_in=number(data, what, "faces_in", 0),
                   faces_out=number(data, what, "faces_out", 0), quads=_quads(data, what),
                   fallback=text(data, what, "fallback", None), bake_size=number(data, what, "bake_size", 0),
                   coloured=flag(data, what, "coloured", False),
                   metallic_roughness=flag(data, what, "metallic_roughness", False),
                   texels_by_nearest=number(data, what, "texels_by_nearest", 0), texels=number(data, what, "texels", 0),
                   high_mesh=text(data, what, "high_mesh", ""), materials=_names(data, what, "materials"),
                   seconds=number(data, what, "seconds", 0.0, whole_number=False))


def _names(data: dict[str, Any], what: str, key: str) -> list[str] | None:
    """``data[key]`` as a list of at most ``MAX_ITEMS`` strings; missing or null: None."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ITEMS or not all(
            isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
        raise refuse(what, key, f"is not a list of at most {MAX_ITEMS} names")
    return list(value)


def _quads(data: dict[str, Any], what: str) -> int:
    """How many quads; a writer that said only whether it made quads (true/false) reads as 1 or 0."""
    value = data.get("quads", 0)
    return int(value) if isinstance(value, bool) else number(data, what, "quads", 0)


@dataclass
class TargetRecord:
    """What became of one target instance; ``status`` is pending, done or failed."""

    target: str
    instance: int = 1
    stem: str = ""
    status: str = "pending"
    box: list[float] | None = None
    score: float | None = None
    artist_box: bool = False            # its box came from the artist (the request's boxes), not grounding
    seed: int | None = None
    variation: int = 0                  # which candidate of its target (1..N) in a job with variations
    candidate_of: str | None = None     # its target's first candidate's stem: whose cut-out and place it shares
    crop: str | None = None
    matte: str | None = None
    mesh: str | None = None             # its GLB, relative to the run folder
    faces: int | None = None
    vertices: int | None = None
    cleanup: dict[str, Any] | None = None     # what clean-up did to its mesh (stages/cleanup.CleanStats)
    textured: bool = False
    error: dict[str, str] | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage spent on this target alone
    depth: dict[str, Any] | None = None       # its depth statistic (stages/depth.DepthStat), once measured
    placement: dict[str, Any] | None = None   # where its mesh stands (layout.Placement), once written
    finish: FinishRecord | None = None        # with a topology (jobs/finishing.py)
    completion: Completion | None = None      # (1.17) with complete_hidden: completed or not, and why
    # (1.19) Its views (views/given.py): side -> cut-out (views_in/<name-stem>/<side>.png); those not used,
    # side -> why; what each photo did to its texture (jobs/photo_colour.py): side -> used, residual, coverage.
    views: dict[str, str] | None = None
    views_left_out: dict[str, str] | None = None
    projection: dict[str, Any] | None = None
    splats: str | None = None           # (1.20) its Gaussian splats' PLY, <stem>.splat.ply (jobs/splat_files.py)
    parts: TargetParts | None = None    # (1.22) made in parts too: its parts' GLBs (jobs/generate_parts.py)
    shape_model: str | None = None      # (1.22) the shape model that made its mesh (a name with views: the views one)

    def to_dict(self) -> dict[str, Any]:
        written = {**{f.name: getattr(self, f.name) for f in fields(self)},
                   "finish": self.finish.to_dict() if self.finish else None,
                   "completion": self.completion.to_dict() if self.completion else None,
                   "parts": self.parts.to_dict() if self.parts else None}
        for key in ("parts", "shape_model"):  # keys 1.22 added, written only when set: older records read as before
            if written[key] is None:
                del written[key]
        return written

    @property
    def fallback(self) -> str | None:
        """The finish's one sentence when quads were asked for and not made."""
        return self.finish.fallback if self.finish and self.finish.fallback else None

    @property
    def anchor(self) -> str:
        """The stem of its place in the layout: its own, or its first candidate's (variations)."""
        return self.candidate_of or self.stem

    @classmethod
    def from_dict(cls, data: Any) -> "TargetRecord":
        what = "a target record"
        data = whole(what, data)
        texts = {key: text(data, what, key, None)
                 for key in ("candidate_of", "crop", "matte", "mesh", "splats", "shape_model")}
        objects = {key: mapping(data, what, key, None)
                   for key in ("cleanup", "error", "depth", "placement", "views", "views_left_out", "projection")}
        numbers = {key: number(data, what, key, None) for key in ("seed", "faces", "vertices")}
        box = data.get("box")
        if box is not None and not (isinstance(box, list) and len(box) <= 4 and all(
                finite_number(v) and abs(v) <= MAX_BOX_COORD for v in box)):
            raise refuse(what, "box", f"is not a list of four numbers within {MAX_BOX_COORD:,.0f} pixels")
        if box is not None and len(box) == 4 and not (box[0] < box[2] and box[1] < box[3]):
            # A reversed or empty box laid its object out a billionth of a metre across, and moved the others.
            raise refuse(what, "box", "has no size (its right edge must lie right of its left, its bottom below "
                                      "its top)")
        finish, completion, parts = data.get("finish"), data.get("completion"), data.get("parts")
        if "target" not in data:
            raise refuse(what, "target", "is missing")
        return cls(target=text(data, what, "target", ""),
                   instance=number(data, what, "instance", 1), stem=text(data, what, "stem", ""),
                   status=text(data, what, "status", "pending"), box=box,
                   score=number(data, what, "score", None, whole_number=False),
                   artist_box=flag(data, what, "artist_box", False), variation=number(data, what, "variation", 0),
                   textured=flag(data, what, "textured", False), timings=mapping(data, what, "timings", {}),
                   finish=None if finish is None else FinishRecord.from_dict(finish),
                   completion=None if completion is None else Completion.from_dict(completion),
                   parts=None if parts is None else TargetParts.from_dict(parts),
                   **texts, **objects, **numbers)


def records_from(data: dict[str, Any], what: str) -> list[TargetRecord]:
    """``data["records"]``, each one checked (an older run without the key has none)."""
    return [TargetRecord.from_dict(entry) for entry in items(data, what, "records", [])]
