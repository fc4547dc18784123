"""Which shape model shapes each target of a Generate job, and what it is given.

A target whose record has views (``TargetRecord.views``: side -> its cut-out in the run folder) is
shaped by the model of names with views (Hunyuan3D-2mv: the manager's ``shape_views`` role) with
``{"front": its cut-out, side: cut-out, ...}``, as hy3dgen's pipeline takes an object's views; one
without keeps the job's shape model and its cut-out alone. Where the set has no model of names with
views (the licence-clean family) every target is the shape model's, its views unused here (they still
colour the texture). A shape model that takes views itself (``--shape 2mv``) is given every target's
views, a target without views its front alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from img23d_protocol import FRONT, SIDES
from PIL import Image

from ...catalog import VIEWS_ROLE, ModelSpec, shape_kind
from ...families.table import facts_of
from ...models.manager import ModelManager
from ...models.preflight import ShapeMemory
from ...runs.folders import RunFolder, TargetRecord


@dataclass(frozen=True)
class ShapeGroup:
    """The targets one shape model makes, in the job's order, and what each is given."""

    role: str                    # the manager's role of the model: "shape" or VIEWS_ROLE
    records: list[TargetRecord]
    images: list[Any]            # a cut-out each, or {view: cut-out} for a model that takes views

    @property
    def takes_views(self) -> bool:
        return bool(self.images) and isinstance(self.images[0], dict)


def shape_groups(manager: ModelManager, run_folder: RunFolder, live: list[TargetRecord],
                 cutouts: dict[str, Any]) -> list[ShapeGroup]:
    """The job's live targets by the model that shapes them: the shape model's first, then the
    views model's; a group with no target is left out."""
    has_views_model = VIEWS_ROLE in manager.roles
    firsts = {r.stem: r for r in live}
    # A target's other candidates (variations) share its cut-out, and so its views.
    views = {r.stem: r.views or (firsts[r.candidate_of].views if r.candidate_of in firsts else None) for r in live}
    plain = [r for r in live if not (has_views_model and views[r.stem])]
    viewed = [r for r in live if has_views_model and views[r.stem]]
    shape_takes_views = shape_kind(manager.spec("shape")).views
    groups = [ShapeGroup("shape", plain, [view_images(run_folder, views[r.stem], cutouts[r.stem]) if shape_takes_views
                                          else cutouts[r.stem] for r in plain]),
              ShapeGroup(VIEWS_ROLE, viewed, [view_images(run_folder, views[r.stem], cutouts[r.stem]) for r in viewed])]
    for group in groups:  # the run says which model made each object (a name with views: the views model)
        for record in group.records:
            record.shape_model = manager.spec(group.role).display
    return [group for group in groups if group.records]


def view_images(run_folder: RunFolder, views: dict[str, str] | None, front: Image.Image) -> dict[str, Image.Image]:
    """``{"front": front, side: its cut-out...}`` in front, left, back, right order (hy3dgen's image
    processor sorts them by its own view index: front 0, left 1, back 2, right 3); ``views``: side ->
    its cut-out, relative to the run folder."""
    images = {FRONT: front}
    given = views or {}
    for side in (side for side in SIDES if side in given):
        with Image.open(run_folder.path(given[side])) as picture:
            images[side] = picture.convert("RGBA")
    return images


def views_memory(spec: ModelSpec) -> ShapeMemory:
    """How the shape stage of names with views grows, as the views model's family gives it."""
    memory = facts_of(shape_kind(spec).family).views_memory
    if memory is None:
        raise ValueError(f"{spec.display} shapes names with views, but its family gives no memory for it")
    return memory
