"""The artist's inputs for a job, on ``scene.img23d`` so they are saved with the .blend."""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

import img23d_protocol as protocol
from img23d_client.run_layout import LayoutChoice

from . import box_properties, model_choices, object_views, print_properties, thumbnails


@dataclass(frozen=True)
class QualityPreset:
    octree_resolution: int
    face_budget: int
    texture_size: int
    paint_steps: int
    volume_decoder: str


# No preset asks for a texture bigger than the paint model can fill with detail
# (protocol.DETAILED_TEXTURE_SIZE): a 4096 texture from its 512-pixel views is only upscaled.
# No preset sets the shape model's steps: how many a model needs is a property of the model (a
# step-distilled turbo model is made for 5 and gains nothing from 50; the others make
# under-denoised blobs at 5), not of the quality asked for. Every preset runs the chosen model's
# own steps (protocol.SHAPE_MODELS) unless the Steps field names a number. The paint model's steps
# likewise (0: its own, protocol.PAINT_MODELS: 10 for the distilled turbo model, 30 for 2.0), unless
# Paint Steps names a number. The presets differ in the surface's resolution and decoder, the face
# budget and the texture. Fast and Standard decode at the shape model's own octree resolution (0:
# 256 for Hunyuan3D-2, 384 for Step1X-3D); Standard and High ask for the dense decoder, which keeps thin
# sheets a coarse-to-fine decoding can lose (surfaces/volume.py).
QUALITY_PRESETS = {
    "FAST": QualityPreset(octree_resolution=0, face_budget=40_000, texture_size=2048, paint_steps=0,
                          volume_decoder="flashvdm"),
    "DRAFT": QualityPreset(octree_resolution=128, face_budget=10_000, texture_size=1024, paint_steps=0,
                           volume_decoder="flashvdm"),
    "STANDARD": QualityPreset(octree_resolution=0, face_budget=40_000, texture_size=2048,
                              paint_steps=0, volume_decoder="dense"),
    "HIGH": QualityPreset(octree_resolution=384, face_budget=100_000,
                          texture_size=protocol.DETAILED_TEXTURE_SIZE, paint_steps=0, volume_decoder="dense"),
}


@dataclass(frozen=True)
class FinishPreset:
    face_target: int
    bake_size: int


# What Face Target and Bake Size are when left at 0 (as the Quality presets fill the Advanced
# fields): Standard is the protocol's own defaults; a prop seen from a few metres needs few faces
# and a 1K bake, a hero the camera comes close to five times the faces and a 2K bake.
FINISH_PRESETS = {
    "STANDARD": FinishPreset(face_target=protocol.JobOptions.face_target, bake_size=protocol.JobOptions.bake_size),
    "PROP": FinishPreset(face_target=2_000, bake_size=1024),
    "HERO": FinishPreset(face_target=10_000, bake_size=2048),
}
# The backend's ranges (the one table its checks read): each number field stops where the backend's
# check of its option does, so the two cannot drift. Where a field's 0 means "from the preset" or "the
# model's own", its minimum is that 0, the add-on's own, rather than the range's low end.
RANGES = protocol.OPTION_RANGES
# Bake Size as a choice of the powers of two the backend's check of bake_size admits; "0": the preset's.
BAKE_SIZES = tuple(1 << power for power in range(int(RANGES["bake_size"].high).bit_length())
                   if RANGES["bake_size"].admits(1 << power))


def _load_preview(settings: "Img23dSettings", context: bpy.types.Context) -> None:
    """Load the chosen file as an image datablock so the panel can show its thumbnail."""
    settings.file_image, settings.thumbnail_note = thumbnails.thumbnail_image(bpy.path.abspath(settings.image_path))


class Img23dSettings(bpy.types.PropertyGroup):
    image_source: EnumProperty(  # type: ignore[valid-type]
        name="Image", items=[("FILE", "File", "An image file on disk"),
                             ("DATABLOCK", "In File", "An image already loaded in this .blend")],
        default="FILE")
    image_path: StringProperty(name="Image File", subtype="FILE_PATH", update=_load_preview)  # type: ignore[valid-type]
    file_image: PointerProperty(type=bpy.types.Image, options={"HIDDEN"})  # type: ignore[valid-type]
    thumbnail_note: StringProperty(options={"HIDDEN"})  # type: ignore[valid-type]  # why no thumbnail is shown
    image: PointerProperty(name="Image", type=bpy.types.Image)  # type: ignore[valid-type]
    targets: StringProperty(  # type: ignore[valid-type]
        name="Names", description="Comma-separated names of the parts to make, e.g. 'house, chimney'. "
                                  "Empty: the whole image becomes one object. A name with its parts in brackets, "
                                  "'lamp (shade, arm)', is made in parts too (" + model_choices.brackets_note() + ")")
    prompt: StringProperty(  # type: ignore[valid-type]
        name="Prompt", description="What the picture should show, used when no image is picked: Make Picture makes "
                                   "the picture alone (to look at, and make another), Generate makes it and then the "
                                   "objects named in Names (Seed and Edit Size give its seed and side)")
    part_names: StringProperty(  # type: ignore[valid-type]
        name="Parts", description="Comma-separated names of the parts to cut the selected mesh into, "
                                  "e.g. 'shade, arm, base' (Split Selected into Parts)")
    parts_method: EnumProperty(  # type: ignore[valid-type]
        name="Parts By", default=model_choices.SPLIT, items=model_choices.parts_method_items(),
        description="How Split Selected into Parts makes the parts")
    parts_picture: StringProperty(  # type: ignore[valid-type]
        name="Picture", subtype="FILE_PATH",
        description="The parts model: a picture of the object (optional; the names are found on it)")
    parts_mask: StringProperty(  # type: ignore[valid-type]
        name="Mask", subtype="FILE_PATH",
        description="The parts model: an indexed part mask the picture's size, one part per non-zero value "
                    "(optional)")
    parts_grid: EnumProperty(  # type: ignore[valid-type]
        name="Grid", default=str(model_choices.default_parts_model().default_grid), items=model_choices.grid_items(),
        description="The parts model: the decoding grid (smaller for a quick look)")
    rig_weights: EnumProperty(  # type: ignore[valid-type]
        name="Rig By", default=protocol.DEFAULT_RIGGER, items=model_choices.rigger_items(),
        description="How Rig Selected finds the skeleton and weights (Skin to Armature always binds geometrically)")
    rig_humanoid_names: BoolProperty(  # type: ignore[valid-type]
        name="Humanoid Names", default=True,
        description="Rig Selected: name a humanoid's bones as Mixamo does (Hips, Spine, LeftArm...), so animations "
                    "retarget; otherwise bones are named by chain")
    parts_max: IntProperty(  # type: ignore[valid-type]
        name="Max Parts", default=model_choices.most_parts(), min=1, max=model_choices.most_parts(),
        description="The parts model: parts at most (the model may stop sooner)")
    texture: BoolProperty(name="Texture", default=True,  # type: ignore[valid-type]
                          description="Paint a texture onto each mesh (slower)")
    materials: BoolProperty(  # type: ignore[valid-type]
        name="PBR materials", default=True,
        description="Roughness and metallic maps estimated from the painted views and baked beside the colour, "
                    "so each object's material is not equally dull everywhere (needs Texture)")
    complete_hidden: EnumProperty(  # type: ignore[valid-type]
        name="Complete Hidden", default="never",
        items=[("never", "Never", "Each object as the picture shows it"),
               ("auto", "Auto", "Objects that look covered (another name stands in front of them, or their cut-out "
                                "runs into their box's edge) are completed by the image editor before shape"),
               ("always", "Always", "Every object is completed by the image editor before shape")],
        description="Complete what covers an object with the image editor before its mesh is made; Detect's "
                    "boxes can turn it off per name (Boxes)")
    edit_size: EnumProperty(  # type: ignore[valid-type]
        name="Edit Size", default="0",
        items=[("0", "Editor's Own", "The image editor's own size (1024 x 1024 pixels' area)")]
              + [(str(side), f"{side} px", f"Each crop is completed at {side} x {side} pixels' area (less memory)")
                 for side in (768, 512, 384, 256)],
        description="The area each crop is completed at: smaller fits a smaller GPU (the editor's memory check "
                    "names the size that fits)")
    accept_long: BoolProperty(  # type: ignore[valid-type]
        name="Accept Long Job", default=False,
        description="Start a Generate even when the backend estimates its completion and material steps at an "
                    "hour or more on its device (the panel shows the estimate)")
    quality: EnumProperty(  # type: ignore[valid-type]
        name="Quality", default="FAST",
        items=[("FAST", "Fast", "Surface decoded only where it is (FlashVDM)"),
               ("DRAFT", "Draft", "Coarser surface, fewer faces and a smaller texture"),
               ("STANDARD", "Standard", "Every grid point decoded"),
               ("HIGH", "High", "Slow: finer surface, more faces")])
    seed: IntProperty(name="Seed", default=0, min=0)  # type: ignore[valid-type]
    random_seed: BoolProperty(  # type: ignore[valid-type]
        name="Random Seed", default=False,
        description="A new seed for every job; the one used is shown after the job, to type into Seed "
                    "for the same objects again")
    # The seed the last Generate used (shown after a random-seed job); -1: none yet.
    last_seed: IntProperty(name="Last Seed", default=-1, options={"HIDDEN"})  # type: ignore[valid-type]
    variations: IntProperty(  # type: ignore[valid-type]
        name="Variations", default=1, min=RANGES["variations"].low, max=RANGES["variations"].high,
        description="Generate: candidates of each name, each from its own seed, set side by side to choose from "
                    "(Keep on one puts it in place); 1: one object per name")
    # Make Picture's own count: one number for both made three pictures, then a Generate of three candidates of
    # each name (three times the time) without a word.
    picture_variations: IntProperty(  # type: ignore[valid-type]
        name="Pictures", default=1, min=RANGES["variations"].low, max=RANGES["variations"].high,
        description="Make Picture: how many pictures to make, each from its own seed (Seed, Seed + 1, ...), to pick "
                    "one from in Image")
    # Boxes by hand (box_properties): filled by Detect, corrected or drawn by the artist.
    boxes: CollectionProperty(type=box_properties.Img23dBox)  # type: ignore[valid-type]
    # More pictures of each name (object_views): from its left, back and right; and of the mesh to re-texture.
    views: CollectionProperty(type=object_views.Img23dView)  # type: ignore[valid-type]
    retexture_views: CollectionProperty(type=object_views.Img23dView)  # type: ignore[valid-type]
    printing: PointerProperty(type=print_properties.Img23dPrint)  # type: ignore[valid-type]
    all_instances: BoolProperty(  # type: ignore[valid-type]
        name="All Instances", default=False,
        description="One object per instance of a name (e.g. every barrel), not just the largest")
    # Advanced overrides; 0 means "from the quality preset" (Steps: "the shape model's own").
    steps: IntProperty(  # type: ignore[valid-type]
        name="Steps", default=0, min=0, max=RANGES["steps"].high,
        description=f"The shape model's denoising steps. 0: the model's own ({protocol.describe_default_steps()})")
    octree_resolution: IntProperty(  # type: ignore[valid-type]
        name="Octree Resolution", default=0, min=0, max=RANGES["octree_resolution"].high,
        description="The surface grid's cells per side. 0: from the quality preset (Draft 128, High 384, Fast and "
                    f"Standard the shape model's own: {protocol.describe_default_octrees()})")
    face_budget: IntProperty(  # type: ignore[valid-type]
        name="Face Budget", default=0, min=0, max=RANGES["face_budget"].high)
    keep_all_faces: BoolProperty(  # type: ignore[valid-type]
        name="Keep Every Face", default=False,
        description="No face budget: the mesh keeps every face the surface extraction made")
    # The finished mesh; the defaults are what every job did before these were choices.
    smoothing: IntProperty(  # type: ignore[valid-type]
        name="Smoothing", default=protocol.JobOptions.smoothing, min=RANGES["smoothing"].low,
        max=RANGES["smoothing"].high,
        description="Smoothing passes over the finished mesh (Taubin: smooths without shrinking it)")
    fill_holes: IntProperty(  # type: ignore[valid-type]
        name="Fill Holes", default=protocol.JobOptions.fill_holes, min=0, max=RANGES["fill_holes"].high,
        soft_max=10_000,
        description="Close holes of up to this many boundary edges (0: leave holes open)")
    min_piece: FloatProperty(  # type: ignore[valid-type]
        name="Smallest Piece", subtype="PERCENTAGE", default=protocol.JobOptions.min_piece * 100,
        min=RANGES["min_piece"].low * 100, max=RANGES["min_piece"].high * 100, precision=2,
        description="Separate pieces with fewer faces than this share of the largest piece's are removed as "
                    "noise (0: keep every piece, such as a small handle)")
    texture_size: IntProperty(  # type: ignore[valid-type]
        name="Texture Size", default=0, min=0, max=RANGES["texture_size"].high,
        soft_max=protocol.DETAILED_TEXTURE_SIZE,
        description=f"Side of the baked texture in pixels (0: from the quality preset). Above "
                    f"{protocol.DETAILED_TEXTURE_SIZE} the texture is only upscaled: the paint model's "
                    f"views hold no more detail")
    paint_steps: IntProperty(  # type: ignore[valid-type]
        name="Paint Steps", default=0, min=0, max=RANGES["paint_steps"].high,
        description=f"The paint model's denoising steps. 0: the model's own ({protocol.describe_default_paint_steps()})")
    delight_steps: IntProperty(  # type: ignore[valid-type]
        name="Delight Steps", default=0, min=0, max=RANGES["delight_steps"].high)
    # Where the objects stand (layout.py). Kept in radians, shown in degrees.
    fov: FloatProperty(  # type: ignore[valid-type]
        name="Field of View", subtype="ANGLE", default=math.radians(protocol.JobOptions.fov_degrees),
        min=math.radians(RANGES["fov_degrees"].low), max=math.radians(RANGES["fov_degrees"].high),
        description="The camera's field of view across the picture's longer side. Wider: the picture spans "
                    "more of the world, so the objects come out bigger and further apart. Used unless the "
                    "depth model estimates one (Estimated)")
    estimate_fov: BoolProperty(  # type: ignore[valid-type]
        name="Estimated", default=True,
        description="Use the depth model's estimate of the field of view when it makes one "
                    "(Depth Anything V2 does not: then Field of View is used)")
    ground: BoolProperty(  # type: ignore[valid-type]
        name="Ground", default=True,
        description="Objects whose bottoms lie on one floor in the picture stand on one ground plane; "
                    "off: each keeps the height its depth gives, under a level camera")

    symmetry: EnumProperty(  # type: ignore[valid-type]
        name="Symmetry", default="auto",
        items=[("auto", "Auto", "The model's default label (asymmetric)"),
               ("x", "Mirror X", "Mirror-symmetric about the X axis (left and right alike)"),
               ("none", "None", "Asymmetric")],
        description="The Label model's symmetry label (Step1X-3D Label only)")
    edges: EnumProperty(  # type: ignore[valid-type]
        name="Edges", default="auto",
        items=[("auto", "Auto", "The model's default label (normal)"), ("normal", "Normal", "Normal edges"),
               ("smooth", "Smooth", "Smooth, rounded edges"), ("sharp", "Sharp", "Sharp, crisp edges")],
        description="The Label model's edge label (Step1X-3D Label only)")

    # Finishing (docs/game-ready.md): as generated (today's mesh), or remade as triangles or quads
    # and baked. Face Target and Bake Size at 0 come from the Finish preset, as Advanced's fields
    # come from the Quality preset.
    topology: EnumProperty(  # type: ignore[valid-type]
        name="Topology", default="as-generated",
        items=[("as-generated", "As Generated", "The generator's own triangles, as before"),
               ("triangles", "Triangles", "Reduced to Face Target triangles; colour and a normal map baked on"),
               ("quads", "Quads", "Remade as Face Target quads (Instant Meshes); colour and a normal map baked on")],
        description="The finished mesh's faces: as the generator made them, or remade for games and editing")
    finish_preset: EnumProperty(  # type: ignore[valid-type]
        name="Finish Preset", default="STANDARD",
        items=[("STANDARD", "Standard", f"{FINISH_PRESETS['STANDARD'].face_target:,} faces, "
                                        f"{FINISH_PRESETS['STANDARD'].bake_size} px bake"),
               ("PROP", "Prop", f"{FINISH_PRESETS['PROP'].face_target:,} faces, {FINISH_PRESETS['PROP'].bake_size} px "
                                "bake: an object seen from a few metres"),
               ("HERO", "Hero", f"{FINISH_PRESETS['HERO'].face_target:,} faces, {FINISH_PRESETS['HERO'].bake_size} px "
                                "bake: an object the camera comes close to")])
    face_target: IntProperty(  # type: ignore[valid-type]
        name="Face Target", default=0, min=0, max=RANGES["face_target"].high, soft_max=50_000,
        description="Faces of the finished mesh (a quad counts as one). 0: from the Finish preset")
    bake_size: EnumProperty(  # type: ignore[valid-type]
        name="Bake Size", default="0",
        items=[("0", "From Preset", "The Finish preset's size")] +
              [(str(size), f"{size} px", f"{size} x {size} colour and normal maps") for size in BAKE_SIZES],
        description="Side of the baked colour and normal maps in pixels")

    def finish_values(self) -> tuple[int, int]:
        """Face Target and Bake Size as a job gets them: the fields, else the Finish preset's."""
        preset = FINISH_PRESETS[self.finish_preset]
        return self.face_target or preset.face_target, int(self.bake_size) or preset.bake_size

    def job_options(self, model: "protocol.ShapeModelKind | None" = None) -> "protocol.JobOptions":
        """The job's options for the shape ``model`` the backend will run: its own octree resolution where
        the preset leaves it to the model (so the backend's limits can be checked before sending), and
        Symmetry and Edges where it takes labels (else they stay auto). No model: the backend decides."""
        preset = QUALITY_PRESETS[self.quality]
        labels = model is not None and model.labels
        options = protocol.JobOptions(
            seed=self.seed, random_seed=self.random_seed,
            steps=self.steps,  # 0: the backend runs the shape model's own
            octree_resolution=self.octree_resolution or preset.octree_resolution or (model.octree if model else 0),
            volume_decoder=preset.volume_decoder,
            face_budget=0 if self.keep_all_faces else self.face_budget or preset.face_budget,
            smoothing=self.smoothing, fill_holes=self.fill_holes, min_piece=round(self.min_piece / 100, 6),
            keep="all" if self.all_instances else "largest", texture=self.texture, materials=self.materials,
            variations=self.variations,
            texture_size=self.texture_size or preset.texture_size, paint_steps=self.paint_steps or preset.paint_steps,
            delight_steps=self.delight_steps or protocol.JobOptions.delight_steps,
            fov_degrees=self.fov_degrees(), estimate_fov=self.estimate_fov, ground=self.ground,
            symmetry=self.symmetry if labels else "auto", sharpness=self.edges if labels else "auto",
            topology=self.topology, face_target=self.finish_values()[0], bake_size=self.finish_values()[1],
            complete_hidden=self.complete_hidden, edit_size=int(self.edit_size), accept_long=self.accept_long)
        options.validate()
        return options

    def fov_degrees(self) -> float:
        return round(math.degrees(self.fov), 4)

    def layout_choice(self) -> LayoutChoice:
        """The layout settings as they are now: for Import Run and Re-layout."""
        return LayoutChoice(self.fov_degrees(), self.estimate_fov, self.ground)


classes = (*box_properties.classes, *object_views.classes, *print_properties.classes, Img23dSettings)


def register() -> None:
    bpy.types.Scene.img23d = PointerProperty(type=Img23dSettings)


def unregister() -> None:
    del bpy.types.Scene.img23d
