"""Re-texture: paint an artist's mesh from a picture; its topology and UVs stay.

Every map the job makes comes back on the artist's UVs: the colour (``texture.png``, the ``texture``
artifact) and, where the material step ran (``jobs.steps.materials``, as in a Generate), glTF's
metallicRoughness texture (``metallic_roughness.png``, the ``metallic_roughness`` artifact, 1.16).
The painted mesh is kept beside them as ``<name>.glb`` (its record's ``mesh``), written before the manifest
says finished. More pictures of the mesh (the request's ``views``, 1.19: its left, back and right) are kept in the run
as given and cut out (``views.given``, as a Generate's), and projected with the front picture onto the
colour after painting (``jobs.steps.photo_colour``); the metallicRoughness map stays as the material step made it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import (SIDES, Artifact, ArtifactKind, ErrorCode, ProtocolError, RetextureJobResult, RetextureRequest,
                             validate_side_views, validate_targets)
from PIL import Image

from ...families.table import family_of
from ...gltf.writer import export_glb
from ...matting import driver as matting
from ...models import preflight
from ...models.oom import OutOfMemory
from ...catalog import PAINT_ROLES
from ...readers.artist_mesh import load_artist_mesh
from ...readers.images import LoadedImage
from ...readers.meshes import textured_mesh
from ...runs.folders import TargetRecord
from ...uv import retexture
from ...stages.step_context import warn
from ...views import given as given_views
from ..steps import materials
from ..context import EngineContext
from ..steps.painting import PaintingRun
from ..steps.photo_colour import LEFT_OUT, colour_from_views


class RetextureRun(PaintingRun[RetextureRequest]):
    """Paint an artist's mesh; its topology and UVs stay, a texture (and maybe UVs) come back."""

    kind = "retexture"

    @classmethod
    def check_request(cls, request: RetextureRequest) -> None:
        super().check_request(request)
        validate_targets([request.name], looked_for=False)  # it names files, as a target does
        if not request.mesh:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "no mesh given")
        if not Path(request.mesh).is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no mesh file at {request.mesh}")
        for side, path in validate_side_views(request.views).items():
            if not Path(path).is_file():
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"no picture file at {path} for the {side} view")

    @classmethod
    def check_models(cls, request: RetextureRequest, engine: EngineContext) -> None:
        if not engine.can_paint:  # re-texturing is only painting: the family's one sentence
            raise ProtocolError(ErrorCode.BAD_REQUEST, engine.no_texture)

    @classmethod
    def check_memory(cls, request: RetextureRequest, engine: EngineContext) -> None:
        # Re-texturing only paints.
        preflight.check_job(request.options, engine.device, shape=False, own_paint=engine.own_paint,
                            room=engine.total_room())

    @classmethod
    def roles_used(cls, request: RetextureRequest) -> tuple[str, ...]:
        # The roles a set has (the clean family's has no delight), and the material model when its maps are on.
        return ("matting",) + PAINT_ROLES + (("materials",) if request.options.materials else ())

    def body(self) -> RetextureJobResult:
        source = Path(self.request.mesh)
        image = self.load_input()
        mesh_copy = self.run_folder.copy_in("input_mesh.npz", source)
        artist = load_artist_mesh(mesh_copy)
        [name] = validate_targets([self.request.name], looked_for=False)
        record = TargetRecord(target=name, stem=self.run_folder.unique_stem(name, 1), seed=self.options.seed,
                              faces=artist.face_count, vertices=int(len(artist.positions)))
        self.run_folder.manifest.targets = [name]
        self.run_folder.manifest.records = [record]
        cutout = self._reference(image, record)
        self._side_views(record)
        loop_uvs, created = artist.loop_uvs, False
        if loop_uvs is not None:
            painted_uvs = retexture.tile_uvs(loop_uvs)
            if painted_uvs is None:  # painted one flat colour, without a word: said, and unwrapped anew
                warn(self, "unwrap", "uv_map_without_area",
                     "the mesh's UV map has no area (every corner at one point): a new one is made")
            elif retexture.several_tiles(painted_uvs):
                warn(self, "paint", "uv_map_over_tiles", "the mesh's UV map spreads over several UV tiles (UDIM?): "
                     "one texture covers the 0..1 tile, so what lies outside it takes the colours at its border")
            loop_uvs = painted_uvs
        if loop_uvs is None:
            with self.stage("unwrap"):
                loop_uvs, created = retexture.unwrap(artist, self.job.cancel), True
        target = retexture.paintable(artist, loop_uvs)
        # A face budget of 0 keeps every face: the artist's mesh is painted as it is.
        through_proxy = 0 < self.options.face_budget < artist.face_count
        if through_proxy:
            with self.stage("proxy"):
                stand_in = retexture.proxy(artist, self.options.face_budget)
            painted = materials.with_materials(self, record, self.paint_mesh(record, stand_in, cutout))
            with self.stage("transfer"):
                bake = family_of(self.manager.spec("paint")).uv_bake  # the painting family's rasterizer
                maps = [Image.fromarray(texture, "RGB") for texture in retexture.transfer_textures(
                    target, painted, _maps(painted), self.options.texture_size, self.engine.device, bake)]
        else:
            painted = materials.with_materials(self, record, self.paint_mesh(record, target, cutout))
            maps, target = _maps(painted), painted
        # Every photo colours what it sees, on the artist's UVs; the metallic-roughness map stays as made.
        coloured = colour_from_views(self, record, target, cutout, maps[0])
        maps[0] = coloured if coloured is not None else maps[0]
        with self.stage("export"):
            texture_path = self.run_folder.write_image("texture.png", maps[0])
            maps_path = self.run_folder.write_image("metallic_roughness.png", maps[1]) if len(maps) > 1 else None
            uvs_path = self.run_folder.write_bytes_with(
                "uvs.npy", lambda p: np.save(p, loop_uvs.astype(np.float32), allow_pickle=False)) if created else None
            # The painted mesh as a GLB, in the run before its manifest says finished: what a pipeline reads.
            glb = textured_mesh(mesh_copy, texture_path, uvs_path, maps_path)
            record.mesh = self.run_folder.write_bytes_with(
                f"{record.stem}.glb", lambda p: export_glb(glb, p, self.made_by())).name
        record.status, record.textured = "done", True
        for kind, path in ((ArtifactKind.TEXTURE, texture_path), (ArtifactKind.METALLIC_ROUGHNESS, maps_path),
                           (ArtifactKind.UVS, uvs_path)):
            if path is not None:
                self.job.emit(Artifact(job=self.job.id, kind=kind, path=str(path), target=name))
        return RetextureJobResult(run_dir=str(self.run_folder.root), texture=str(texture_path),
                                  uvs=str(uvs_path) if uvs_path else None, uv_created=created, proxy=through_proxy,
                                  faces=artist.face_count, texture_size=list(maps[0].size), seed=self.options.seed,
                                  metallic_roughness=str(maps_path) if maps_path else None,
                                  materials_skipped=self.run_folder.manifest.materials_skipped)

    def _reference(self, image: LoadedImage, record: TargetRecord) -> Any:
        """The picture as an RGBA cut-out: its own alpha when real, the matting model's otherwise."""
        with self.stage("matting"):
            cutout = self._cut_out(image, "the picture")
            record.matte = self.run_folder.relative(self.run_folder.write_image("mattes/reference.png", cutout))
        return cutout

    def _cut_out(self, image: LoadedImage, what: str) -> Image.Image:
        """``image`` as an RGBA cut-out: its own alpha when real, the matting model's otherwise."""
        if image.has_alpha:
            return image.image
        with self.manager.use("matting") as model:
            [cutout] = matting.matte_all(self, model, [image.image])
        if isinstance(cutout, OutOfMemory):
            raise ProtocolError(ErrorCode.OUT_OF_MEMORY, f"matting {what} ran out of memory", cutout.detail)
        if not isinstance(cutout, Image.Image):
            raise ProtocolError(ErrorCode.INTERNAL, f"matting {what} failed: {cutout.reason}")
        return cutout

    def _side_views(self, record: TargetRecord) -> None:
        """The request's views read, kept as given and cut out as a Generate's are (``views.given``:
        ``views_in/<stem>/<side>.given.<ext>``), each cut-out kept as matted (``<side>.png``, RGBA: the
        projection fits each to the mesh itself); a view that cannot be used is left out with its sentence."""
        given = validate_side_views(self.request.views)
        if not given:
            return
        kept: dict[str, str] = {}
        with self.stage(given_views.STAGE):
            sides = {side: given[side] for side in SIDES if side in given}
            for view in given_views.read_views(self, {record.stem: sides})[record.stem]:
                # The same height a Generate's view needs: a 10-pixel object painted a third of a house's texture.
                why = view.why if view.cutout is None else given_views.too_short(view.cutout)
                if why is not None:
                    self._leave_out(record, view.side, f"the {view.side} view was left out: {why}")
                    continue
                path = self.run_folder.write_image(f"{given_views.FOLDER}/{record.stem}/{view.side}.png", view.cutout)
                kept[view.side] = self.run_folder.relative(path)
        record.views = kept or None

    def _leave_out(self, record: TargetRecord, side: str, sentence: str) -> None:
        record.projection = {**(record.projection or {}), side: {"side": side, "used": False, "left_out": sentence}}
        self.run_folder.manifest.warnings.append({"stage": "views", "code": LEFT_OUT, "message": sentence,
                                                 "target": record.target, "side": side})


def _maps(painted: Any) -> list[Image.Image]:
    """A painted mesh's maps, as Re-texture sends them: its colour, then its metallicRoughness
    texture when the material step made one (``jobs.steps.materials``)."""
    material = painted.visual.material
    extra = getattr(material, "metallicRoughnessTexture", None)
    return [material.baseColorTexture] + ([extra] if extra is not None else [])
