"""The parts job: one ``PartsRequest``, made in either of the parts room's two ways, which its ``mode`` picks.

* "split": the artist's mesh cut into one part per name, with the grounding and matting models img23d ships
  and its own rasterizer (``parts.split.driver``): no parts model, and no hidden geometry invented.
* "model": the parts drawn by the parts model the request names (``model``; none: the set's own, else the
  default), registered with the engine's manager when another is (``parts.driver``, reaching the model through
  ``parts.table``) from a picture, a mesh, or both. What decides the parts: an indexed mask the artist gives
  (``mask``: one part per non-zero value), the names found on the picture (``targets``: each grounded, its
  box cut out by the matting model, the cut-outs made into the mask, one value per name), or nothing (the
  model finds them). A picture without transparency is cut out first (the matting model), since the model
  frames the object by it.

This module adapts the request: it checks it, turns it into the room's own request (``SplitRequest``,
``parts.part.PartsRequest``), reads the inputs the model way is given, and writes what came back as
``parts.json`` and the protocol's ``PartsJobResult``. Each way records what it really has of its parts
(``parts.record``: a cut part its caps and the renders its name was found on, a drawn part the faces it was
decoded with), none of the other's.

Frames: the mesh arrives in Blender's axes (``readers.meshes.artist_mesh_file``). A split keeps it; the model
works in glTF's, +Y up, as it was trained, so the turn is made here both ways (``gltf.frame``) and every part
comes back in the input's own frame and size. From a picture alone the parts are in the model's [-1, 1].
Every file a model drew carries the model's licence in its ``asset.extras``; ``parts.json`` and the manifest
say the same.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from img23d_protocol import DRAWN_PARTS_WHY, ErrorCode, PartsJobResult, PartsRequest, ProtocolError, part_names
from img23d_protocol.tables import look_up

from ...catalog import PARTS_ROLE
from ...gltf.frame import to_gltf
from ...parts import costs, driver, memory
from ...parts.indexed_mask import check_mask, coloured, read_mask, scaled
from ...parts.part import DEFAULT_STEPS, check_limits
from ...parts.part import PartsRequest as ModelRequest
from ...parts.record import PartRecord
from ...parts.split.driver import INPUT, SplitRequest, split
from ...parts.split.renders import RENDER_SIZE
from ...parts.table import PARTS_ROWS, offered, row_of
from ...readers.artist_mesh import load_artist_mesh
from ...readers.images import LoadedImage
from ...runs.folders import TargetRecord
from ...matting import driver as matting
from ...matting.driver import UnusableMatte
from ...models.oom import OutOfMemory
from ...stages.step_context import warn
from ..base import JobRun
from ..context import EngineContext
from ..loaders import ensure_parts_model

SPLIT_ROLES = ("grounding", "matting")


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def _drawn(request: PartsRequest) -> bool:
    """Whether the parts model draws the parts (else the mesh is split by names)."""
    return request.mode == "model"


class PartsRun(JobRun[PartsRequest]):
    """An object's parts, split from its mesh by names or drawn by the parts model, each written as a GLB."""

    kind = "parts"

    @classmethod
    def check_request(cls, request: PartsRequest) -> None:
        if not _drawn(request):
            if request.model:
                raise _bad(f"a split by names uses no parts model, and {request.model!r} was named: leave the model "
                           "out, or ask for the parts to be drawn (mode model)")
            request.targets = part_names(", ".join(request.targets))
            if not Path(request.mesh).is_file():
                raise _bad(f"no mesh file at {request.mesh}")
            if request.render_size != 0 and not 64 <= request.render_size <= 2048:
                raise _bad("the renders' size must be 64 to 2048 pixels")
            return
        if request.model:
            look_up(PARTS_ROWS, request.model, "parts model")   # the backend's table: a test's second model is in it
        if not request.image and not request.mesh:
            raise _bad("give a picture of the object, a mesh of it, or both")
        for what, path in (("picture", request.image), ("mesh", request.mesh), ("mask", request.mask)):
            if path and not Path(path).is_file():
                raise _bad(f"no {what} file at {path}")
        if request.mask and not request.image:
            raise _bad("a mask needs the picture it was drawn on: give the picture too")
        if request.targets and not request.image:
            raise _bad("names are found on a picture of the object: give one, or split the mesh by names (--split)")
        if request.steps and not 1 <= request.steps <= 200:
            raise _bad("the denoising steps must be 1 to 200 a part")

    @classmethod
    def check_models(cls, request: PartsRequest, engine: EngineContext) -> None:
        # First use registers the parts model (a backend started without one), and a request naming another parts
        # model registers that one in its place; a split needs none.
        if _drawn(request) and not ensure_parts_model(engine.manager, engine.settings.models, request.model):
            raise ProtocolError(ErrorCode.MODEL_MISSING, "this model set has no parts model: drawing parts needs one")
        if _drawn(request):   # the limits are those of the model that draws, 0 its own
            model = offered(engine.manager.spec(PARTS_ROLE))
            check_limits(model, request.grid or None, request.max_parts or None)
            request.grid, request.max_parts = request.grid or model.default_grid, request.max_parts or model.max_parts
            request.targets = part_names(", ".join(request.targets), request.max_parts, DRAWN_PARTS_WHY) \
                if request.targets else []
        missing = [role for role in cls.roles_used(request) if role not in engine.manager.roles]
        if missing:
            doing = "drawing parts this way" if _drawn(request) else "splitting by names"
            raise ProtocolError(ErrorCode.MODEL_MISSING, f"{doing} needs the {' and '.join(missing)} model, which "
                                                         "this model set does not have")

    @classmethod
    def check_memory(cls, request: PartsRequest, engine: EngineContext) -> None:
        if not _drawn(request):  # a split's bounds are the mesh's (parts.split.costs), checked once it is read
            return
        spec = engine.manager.spec(PARTS_ROLE)
        device = engine.manager.device_of(PARTS_ROLE)
        memory.check_parts(row_of(spec), request.grid or DEFAULT_GRID, device)
        costs.refuse_long_parts(spec, device, cls._estimate_request(request), request.options.accept_long)

    @classmethod
    def _estimate_request(cls, request: PartsRequest) -> ModelRequest:
        """What the estimate counts: the parts asked for (a mask's values: every mask was counted as the most,
        40, and a slow device's three-region mask could be refused as too long)."""
        parts = cls._mask_parts(request) if request.mask else len(request.targets) or request.max_parts
        return ModelRequest(image=None, vertices=np.zeros((1, 3)) if request.mesh else None, max_parts=parts,
                            grid=request.grid, steps=request.steps or DEFAULT_STEPS)

    @classmethod
    def _mask_parts(cls, request: PartsRequest) -> int:
        """The artist's mask's values, read before any folder is made: more than the parts asked for at most is
        refused in one sentence (the mask drew all of them, the most asked for unsaid)."""
        values = int((np.unique(read_mask(request.mask)) != 0).sum())
        if values > request.max_parts:
            raise _bad(f"the mask has {values} values and at most {request.max_parts} parts were asked for: ask "
                       f"for {values} or more, or give a mask of fewer values")
        return max(values, 1)

    @classmethod
    def roles_used(cls, request: PartsRequest) -> tuple[str, ...]:
        if not _drawn(request):
            return SPLIT_ROLES
        found = ("grounding",) if request.targets else ()
        return (PARTS_ROLE, *found, *(("matting",) if request.image else ()))

    @classmethod
    def folder_label(cls, request: PartsRequest) -> str:
        return f"{request.name}-parts"

    # -- the job --------------------------------------------------------------------------------

    def body(self) -> PartsJobResult:
        return self._draw() if _drawn(self.request) else self._split()

    def _split(self) -> PartsJobResult:
        made = split(self, SplitRequest(self.request.mesh, self.request.name, list(self.request.targets),
                                        self.request.render_size or RENDER_SIZE))
        self._write_record(made.parts, made.facts)
        return self._result(made.parts, made.combined, made.faces, made.note)

    def _draw(self) -> PartsJobResult:
        picture = self.load_input() if self.request.image else None
        vertices = faces = None
        if self.request.mesh:
            with self.stage("load"):
                artist = load_artist_mesh(self.run_folder.copy_in(INPUT, self.request.mesh))
                vertices, faces = to_gltf(artist.positions).astype(np.float32), np.asarray(artist.triangles)
        image = self._object_picture(picture) if picture is not None else None
        mask, names = self._mask(picture, image) if picture is not None else (None, [])
        mask_file = None
        if mask is not None:
            mask_file = self.run_folder.relative(self.run_folder.write_image("part_mask.png", coloured(mask)))
        request = ModelRequest(image=image, vertices=vertices, faces=faces, mask=mask,
                               names=tuple(names), max_parts=self.request.max_parts,
                               seed=self.options.seed, grid=self.request.grid,
                               steps=self.request.steps or DEFAULT_STEPS)
        made = driver.draw(self, request)
        with self.stage("export"):
            written = driver.write_parts(self, made, self.run_folder.unique_stem(self.request.name, 1))
            manifest = self.run_folder.manifest
            manifest.targets = [part.name for part in written.parts]
            manifest.records = [TargetRecord(target=part.name, stem=Path(part.mesh or "").stem, status="done",
                                             mesh=part.mesh, faces=part.faces) for part in written.parts]
            self.run_folder.save_manifest()
        spec = self.manager.spec(PARTS_ROLE)
        model, licence = row_of(spec).name, spec.licence.licence
        note = "; ".join(text for text in (f"drawn by {model}", licence.summary(), driver.decoding_note(made)) if text)
        self._write_record(written.parts, {"model": model, "licence": licence.summary(), "mask": mask_file,
                                           "frame": "the input mesh's" if vertices is not None else
                                                    "the model's [-1, 1], +Y up"})
        return self._result(written.parts, written.combined, int(len(faces)) if faces is not None else 0, note,
                            model=model, licence=licence.name, mask=mask_file)

    def _write_record(self, parts: Sequence[PartRecord], facts: dict[str, Any]) -> None:
        """``parts.json``: the object, what the way says of the whole, and each part as it recorded it."""
        self.run_folder.write_json("parts.json", {"object": self.request.name, **facts,
                                                  "parts": [asdict(part) for part in parts]})

    def _result(self, parts: Sequence[PartRecord], combined: str | None, faces: int, note: str,
                **drawn: Any) -> PartsJobResult:
        """The protocol's answer; ``drawn``: the model, its licence and the mask, for parts a model drew."""
        return PartsJobResult(run_dir=str(self.run_folder.root), manifest=str(self.run_folder.path("manifest.json")),
                              combined=combined, parts=tuple(part.result() for part in parts), faces=faces,
                              note=note, timings=dict(self.run_folder.manifest.timings), seed=self.options.seed,
                              **drawn)

    # -- the picture and its mask ----------------------------------------------------------------

    def _object_picture(self, picture: LoadedImage) -> Any:
        """The picture with the object's alpha: its own, or the matting model's cut-out of it."""
        if picture.has_alpha:
            return picture.image
        with self.stage("matting"), self.manager.use("matting") as model:
            [cutout] = matting.matte_all(self, model, [picture.image])
        if isinstance(cutout, (OutOfMemory, UnusableMatte)):
            raise ProtocolError(ErrorCode.SHAPE_FAILED, "the object could not be cut out of the picture "
                                                      "(give it with a transparent background)")
        self.run_folder.write_image("cutout.png", cutout, picture.permissions)
        return cutout

    def _mask(self, picture: LoadedImage, image: Any) -> tuple[np.ndarray | None, list[str]]:
        """The artist's mask at the picture's size as the model reads it, or one made from the names; and the
        parts' names as the part loop takes them (one per value left, in increasing order of value)."""
        names = list(self.request.targets)
        if self.request.mask:
            with self.stage("mask"):
                copied = self.run_folder.copy_in(f"input_mask{Path(self.request.mask).suffix}", self.request.mask)
                most = offered(self.manager.spec(PARTS_ROLE)).max_parts
                mask = check_mask(read_mask(copied), picture.original_size, most)
                values = [int(value) for value in np.unique(mask) if value != 0]
                if len(names) > len(values):
                    raise _bad(f"{len(names)} names were given for the mask's {len(values)} values: "
                               "give one name per value at most (in increasing order of value)")
                small = scaled(mask, picture.size)
                return small, self._kept_names(names, values, set(np.unique(small).tolist()), picture.size)
        if not names:
            return None, []
        mask = driver.names_mask(self, image, names, "detections.json")
        if mask is None:
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, f"none of the names ({', '.join(names)}) was found on "
                                                            "the object in the picture, so no part mask could be made")
        # Value i + 1 is name i: the names found, in order.
        return mask, driver.found_names(names, mask)

    def _kept_names(self, names: list[str], values: list[int], kept: set[int], size: tuple[int, int]) -> list[str]:
        """The artist's names of the mask's values that the picture's scaling kept (a region of a pixel or two
        on a picture larger than the model reads may vanish), each lost one said: the names went to the values
        left by rank, so every name after it named the next part (the roof written as 'antenna')."""
        for rank, value in enumerate(values):
            if value not in kept:
                named = f" ({names[rank]!r})" if rank < len(names) else ""
                warn(self, "mask", "part_not_found",
                     f"the mask's region of value {value}{named} is too small to remain when the picture "
                     f"is scaled to {size[0]} x {size[1]} pixels for the model: no part is drawn for it")
        return [name for name, value in zip(names, values) if value in kept]


__all__ = ["PartsRun"]
