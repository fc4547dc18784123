"""Bringing one target's GLB into the scene as exactly one object, placed as in the picture.

The glTF importer may create root empties and several mesh nodes; they are folded into one
mesh object (transforms applied), named after the target and moved into the run's collection.
Where it stands comes from the run's layout (``run_layout``, the shared ``layout`` math): at its
distance, turned to face the camera as it did in the picture, scaled so that seen through the
run's camera, which this module adds to the collection, it covers its box in the picture.

It is the one way a file made by a job reaches Blender's data: a GLB (``import_glb``) or an image
(``load_image``: a texture, a run's pictures). Each is first held to the bytes Blender would hold
of img23d's largest texture (three for a GLB), its images' sizes and bit depths read from their
headers (``img23d_client.texture_guard``), so a texture bomb from a host is refused in one sentence
before Blender holds a pixel of it; with a run's ``texture_guard.RunBudget`` the file is also
charged to the run, and refused (``OverBudget``) past the run's budget.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import bpy
from mathutils import Euler, Matrix, Vector

from img23d_client import texture_guard
from img23d_protocol import ProtocolError, layout

from . import quad_restore, seam_weld

PROP_PREFIX = "img23d_"
CAMERA_TAG = PROP_PREFIX + "camera"
PREVIEW_LONG_SIDE = 1920   # the render size given to a picture's camera that becomes the scene's


@dataclass
class TargetFile:
    """One target's mesh as the backend made it: from an ``artifact`` event or a run's manifest."""

    path: Path
    target: str
    instance: int = 1
    box: list[float] | None = None
    image_size: list[int] | None = None
    seed: int | None = None
    run_dir: str = ""
    models: dict[str, str] | None = None
    key: str = ""                          # its record's stem: its name in the run's layout
    variation: int = 0                     # a candidate of a job with variations (1..N); 0: an object
    anchor: str = ""                       # a candidate's place in the layout: its first candidate's stem


class ImportFailed(Exception):
    """The GLB or image could not be imported (missing, truncated, no mesh in it, a texture too big)."""


class OverBudget(ImportFailed):
    """The file would take its run past the bytes of images Blender may hold of one run: left out."""


def _guarded(check: Callable[[], Any]) -> Any:
    """``check`` (a ``texture_guard`` check), its refusal as ``ImportFailed`` or ``OverBudget``."""
    try:
        return check()
    except texture_guard.OverBudget as exc:
        raise OverBudget(exc.message) from None
    except ProtocolError as exc:
        raise ImportFailed(exc.message) from None


def import_glb(path: Path, name: str, notes: list[str] | None = None,
               budget: texture_guard.RunBudget | None = None) -> bpy.types.Object:
    """Import ``path`` and return a single mesh object named ``name`` (not yet in a collection).
    A finished object's quads are restored (``quad_restore``); then the copies of a vertex that
    the file's UV seams and hard edges made are welded, each corner keeping its normal and UV
    (``seam_weld``), so a closed mesh arrives closed. A sentence about pairs that could not be
    joined goes to ``notes``. The file's images are charged to ``budget`` (a run's), and given
    back when the file does not import after all."""
    if not path.is_file():
        raise ImportFailed(f"{path} does not exist")
    # Before the importer: it makes an image of any size it finds.
    held = sum(size.held_bytes for size in _guarded(lambda: texture_guard.check_glb(path, budget)))
    try:
        return _import_checked(path, name, notes)
    except ImportFailed:
        if budget is not None:
            budget.refund(held)
        raise


def _import_checked(path: Path, name: str, notes: list[str] | None) -> bpy.types.Object:
    before = set(bpy.data.objects)
    try:
        # Without the importer's Merge Vertices: it keeps apart copies whose normals differ (a hard
        # edge) and joins any it finds at one position; seam_weld welds along the cut edges only.
        result = bpy.ops.import_scene.gltf(filepath=str(path), merge_vertices=False)
    except RuntimeError as exc:  # the importer reports parse errors this way
        _remove(set(bpy.data.objects) - before)
        raise ImportFailed(f"{path.name} could not be read: {str(exc).strip().splitlines()[-1]}") from exc
    created = set(bpy.data.objects) - before
    if "FINISHED" not in result:
        _remove(created)
        raise ImportFailed(f"{path.name} could not be imported")
    meshes = [o for o in created if o.type == "MESH"]
    if not meshes:
        _remove(created)
        raise ImportFailed(f"{path.name} contains no mesh")
    for mesh in {o.data for o in meshes}:  # before folding: joining meshes would reorder the faces
        with seam_weld.kept_normals(mesh):
            restored = quad_restore.restore_quads(mesh, name)
            seam_weld.weld_seams(mesh)  # after the quads: their diagonals are no edges to weld along
        if restored.note and notes is not None:
            notes.append(restored.note)
    kept = meshes[0].name
    others = [o.name for o in created if o.name != kept]  # by name: join frees the objects it joins
    obj = _fold(meshes)
    _remove({found for name in others if (found := bpy.data.objects.get(name)) is not None})
    obj.name = name
    obj.data.name = name
    name_images(obj)
    for collection in list(obj.users_collection):
        collection.objects.unlink(obj)
    return obj


def name_images(obj: bpy.types.Object) -> None:
    """``obj``'s images named after it and the importer's label of their node ("barrel base color"), not "Image_0"."""
    for material in {slot.material for slot in obj.material_slots if slot.material is not None}:
        for node in material.node_tree.nodes if material.node_tree is not None else ():
            if node.type == "TEX_IMAGE" and node.image is not None:
                node.image.name = f"{obj.name} {(node.label or 'texture').lower()}"


def check_image(path: Path, budget: texture_guard.RunBudget | None = None) -> None:
    """``ImportFailed`` unless the image file ``path`` is there and its header says Blender would
    hold no more of it than of img23d's largest texture: what Blender may load (or reload) of a
    run; ``OverBudget`` when it would take ``budget`` past its limit (charged when it passes)."""
    if not path.is_file():
        raise ImportFailed(f"{path} does not exist")
    _guarded(lambda: texture_guard.check_image(path, budget))


def run_file(run_dir: str | Path, relative: str) -> Path | None:
    """The file a result from another process names (``relative``) inside ``run_dir``, resolved (a symlink
    followed); None when it leads out of the run folder."""
    root = Path(run_dir).resolve()
    path = (root / relative).resolve()
    return path if root in path.parents else None


def load_image(path: Path) -> bpy.types.Image:
    """A new image datablock of the file ``path`` (a texture, a run's picture), once ``check_image``
    lets it in. Raises ``ImportFailed``."""
    check_image(path)
    try:
        return bpy.data.images.load(str(path), check_existing=False)
    except RuntimeError as exc:  # Blender's own refusal of the file
        raise ImportFailed(f"{path.name} could not be read: {str(exc).strip().splitlines()[-1]}") from exc


def _fold(meshes: list[bpy.types.Object]) -> bpy.types.Object:
    """Bake world transforms into the mesh data and join everything into the first mesh."""
    for obj in meshes:
        world = obj.matrix_world.copy()
        obj.parent = None
        obj.data.transform(world)
        obj.matrix_world = Matrix.Identity(4)
    target = meshes[0]
    if len(meshes) > 1:
        with bpy.context.temp_override(active_object=target, selected_editable_objects=meshes,
                                       selected_objects=meshes):
            bpy.ops.object.join()
    return target


def _remove(objects: set[bpy.types.Object]) -> None:
    for obj in objects:
        if obj.name in bpy.data.objects:
            bpy.data.objects.remove(obj, do_unlink=True)


def place(obj: bpy.types.Object, scene_layout: Any, key: str) -> None:
    """Stand ``obj`` where the layout puts ``key``: its bounds' bottom centre at the placement,
    turned to face the camera, scaled to cover its box. Only the object's transform changes."""
    lo, hi = _bounds(obj)
    placement = scene_layout.place(key, tuple(hi - lo))
    rotation = Euler((0.0, 0.0, placement.yaw), "XYZ")
    anchor = Vector((((lo.x + hi.x) / 2), (lo.y + hi.y) / 2, lo.z)) * placement.scale
    anchor.rotate(rotation)
    obj.rotation_mode = "XYZ"  # the glTF importer leaves quaternions, which would ignore the Euler angles
    # The placement is in the world: an object the artist parented (to the house, say) had it written into its
    # own transform, under its parent's, and stood elsewhere at another size.
    obj.matrix_world = Matrix.LocRotScale(Vector(placement.location) - anchor, rotation,
                                          Vector((placement.scale,) * 3))


def single_layout(item: TargetFile) -> Any:
    """A layout of this one target alone, from its box: for a mesh whose run has no layout."""
    key = item.key or item.target
    target = layout.LayoutTarget(key, tuple(float(v) for v in item.box or ()))
    return layout.solve(tuple(item.image_size or ()), [target], layout.LayoutSettings())


def _bounds(obj: bpy.types.Object) -> tuple[Vector, Vector]:
    corners = [Vector(c) for c in obj.bound_box]
    lo = Vector((min(c.x for c in corners), min(c.y for c in corners), min(c.z for c in corners)))
    hi = Vector((max(c.x for c in corners), max(c.y for c in corners), max(c.z for c in corners)))
    return lo, hi


def tag(obj: bpy.types.Object, **values: Any) -> None:
    """Custom properties an artist (or a script) can read back: where the object came from. A whole number past
    what Blender's 32-bit property holds (a seed of 2**40, given or drawn) is kept as its digits: it stopped the
    import midway with a traceback."""
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        elif isinstance(value, int) and not isinstance(value, bool) and not -2**31 <= value < 2**31:
            value = str(value)
        obj[PROP_PREFIX + key] = value


def candidate_name(target: str, seed: Any) -> str:
    """A candidate's name says its seed: the number to type into Seed to make it again."""
    return f"{target} (seed {seed})"


def add_target(collection_for: Callable[[], bpy.types.Collection], item: TargetFile,
               scene_layout: Any = None, notes: list[str] | None = None,
               budget: texture_guard.RunBudget | None = None) -> bpy.types.Object:
    """Import, place and tag one target. Raises ``ImportFailed``.

    The collection is asked for only once the import worked, so a run whose meshes all fail
    leaves no empty collection behind. ``scene_layout`` is the run's (``run_layout.solve_run``);
    without one, or without this target in it, the target is laid out alone from its box.
    A candidate of a job with variations goes to the run's candidates collection, named with its
    seed, beside its target's place (``IMG23D_OT_keep_variation`` puts the chosen one there).
    ``notes`` gathers the import's sentences for the artist, ``budget`` is the run's (``import_glb``).
    """
    candidate = item.variation > 0
    obj = import_glb(item.path, candidate_name(item.target, item.seed) if candidate else item.target or "img23d", notes,
                     budget)
    run = collection_for()
    (candidates_collection(run) if candidate else run).objects.link(obj)
    key = (item.anchor or item.key) if candidate else item.key
    if scene_layout is not None and key in scene_layout.anchors:
        place(obj, scene_layout, key)
    elif item.box and len(item.box) == 4 and item.image_size:
        place(obj, single_layout(item), item.key or item.target)
    home = list(obj.location)
    if candidate:
        step_aside(obj, scene_layout, item.variation)
    tag(obj, target=item.target, instance=item.instance, box=list(item.box or []), seed=item.seed,
        run=item.run_dir, models=item.models or {}, key=item.key or None,
        variation=item.variation or None, candidate_of=key if candidate else None, home=home if candidate else None)
    return obj


# The tags that say where an object came from (``tag``'s, and a part's): what Re-layout, Regenerate and Keep read.
ORIGIN_TAGS = ("target", "instance", "box", "seed", "run", "models", "key", "variation", "candidate_of", "home",
               "mesh", "part_of", "part_mask")


def move_origin(source: bpy.types.Object, to: bpy.types.Object) -> None:
    """``source``'s origin tags onto ``to``, which takes its place in the scene (Retopologize's low object): left on
    the hidden original, Re-layout moved it and not the object shown, and Regenerate called the result not
    img23d's."""
    for name in ORIGIN_TAGS:
        key = PROP_PREFIX + name
        if key in source:
            to[key] = source[key]
            del source[key]


CANDIDATES = "candidates"
CANDIDATES_TAG = PROP_PREFIX + "candidates"   # on a run's candidates collection: what Keep tidies, and only that
CANDIDATE_SPACING = 1.25   # candidates stand this many of their widths apart


def candidates_collection(run: bpy.types.Collection) -> bpy.types.Collection:
    """The run's collection of candidates to choose from, inside the run's collection, known by its tag (by its
    name, one past Blender's length was never found again: a collection a candidate)."""
    existing = next((c for c in run.children if c.get(CANDIDATES_TAG)), None)
    if existing is not None:
        return existing
    collection = bpy.data.collections.new(f"{run.name} {CANDIDATES}")
    collection[CANDIDATES_TAG] = True
    run.children.link(collection)
    return collection


def stand_in_for(obj: bpy.types.Object, original: bpy.types.Object) -> None:
    """Put ``obj`` where ``original`` stands: its parent (object or bone), the parent's inverse, its own
    transform and its constraints (a Copy Location moved the original, and parts standing in for it stayed
    behind), so the two have the same world matrix."""
    obj.parent = original.parent
    obj.parent_type, obj.parent_bone = original.parent_type, original.parent_bone
    obj.matrix_parent_inverse = original.matrix_parent_inverse.copy()
    obj.rotation_mode = original.rotation_mode
    obj.matrix_basis = original.matrix_basis.copy()
    for constraint in original.constraints:
        obj.constraints.copy(constraint)


def step_aside(obj: bpy.types.Object, scene_layout: Any, number: int) -> None:
    """Move candidate ``number`` (1..N) from its target's place to the side, along the picture's
    horizontal as the run's camera sees it: a row beside the place, in candidate order."""
    right = Vector((1.0, 0.0, 0.0))
    if scene_layout is not None:
        right = Euler(scene_layout.camera.rotation_euler, "XYZ").to_matrix() @ right
    width = max(obj.dimensions.x, obj.dimensions.y, 1e-6)
    obj.location = obj.location + right * (CANDIDATE_SPACING * width * number)


def swap_mesh(obj: bpy.types.Object, path: Path, notes: list[str] | None = None,
              budget: texture_guard.RunBudget | None = None) -> bpy.types.Mesh:
    """Give ``obj`` the mesh in ``path`` in place of its own: same object (name, transform,
    collection, parent, modifiers), new mesh data, its bottom centre where the old one's was so it
    stands where it stood. The old mesh is left to Blender (an undo brings it back). Raises
    ``ImportFailed``; ``notes`` and ``budget`` as for ``import_glb``. The selection and the active object stay
    as they were (the importer selects what it makes: it was removed, and Regenerate left nothing selected, so
    Keep, Re-layout and Regenerate again had nothing to work on)."""
    view_layer = bpy.context.view_layer
    active, selected = view_layer.objects.active, list(bpy.context.selected_objects)
    imported = import_glb(path, obj.name, notes, budget)
    new, old = imported.data, obj.data
    try:
        old_anchor, new_anchor = _bottom_centre(old), _bottom_centre(new)
        obj.data = new
        # In its own transform (the basis): through the world matrix, a constraint's offset was added again, and a
        # chimney with a Copy Location moved 3 units each Regenerate.
        obj.matrix_basis = obj.matrix_basis @ Matrix.Translation(old_anchor - new_anchor)
    finally:
        bpy.data.objects.remove(imported, do_unlink=True)
        for chosen in selected:
            chosen.select_set(True)
        view_layer.objects.active = active
    new.name = obj.name
    return new


def _bottom_centre(mesh: bpy.types.Mesh) -> Vector:
    if not mesh.vertices:
        return Vector((0.0, 0.0, 0.0))
    xs, ys, zs = ([v.co[i] for v in mesh.vertices] for i in range(3))
    return Vector(((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, min(zs)))


def ensure_camera(scene: bpy.types.Scene, collection: bpy.types.Collection, camera: Any, run_dir: str,
                  name: str) -> bpy.types.Object:
    """The run's camera in its collection, set to ``camera`` (a ``layout.Camera``): looking through
    it shows the objects where they are in the picture. Made once per collection; it becomes the
    scene's camera, with the picture's aspect ratio, only if the scene has none."""
    obj = next((o for o in collection.objects if o.type == "CAMERA" and o.get(CAMERA_TAG)), None)
    if obj is None:
        obj = bpy.data.objects.new(name, bpy.data.cameras.new(name))
        collection.objects.link(obj)
        obj[CAMERA_TAG] = True
        obj[PROP_PREFIX + "run"] = run_dir
    set_camera(obj, camera)
    if scene.camera is None:
        scene.camera = obj
        long_side = max(camera.width, camera.height)
        scene.render.resolution_x = round(PREVIEW_LONG_SIDE * camera.width / long_side)
        scene.render.resolution_y = round(PREVIEW_LONG_SIDE * camera.height / long_side)
        scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    return obj


def set_camera(obj: bpy.types.Object, camera: Any) -> None:
    """Pose and lens of a Blender camera for a ``layout.Camera`` (its field of view across the
    picture's longer side, whatever the render's aspect)."""
    data = obj.data
    data.type = "PERSP"
    data.sensor_fit = camera.sensor_fit
    data.angle = math.radians(camera.fov_degrees)
    data.shift_x = data.shift_y = 0.0
    obj.location = camera.location
    obj.rotation_mode = "XYZ"
    obj.rotation_euler = camera.rotation_euler
    obj[PROP_PREFIX + "fov"] = camera.fov_degrees


def run_collection(scene: bpy.types.Scene, name: str, existing: bpy.types.Collection | None = None
                   ) -> bpy.types.Collection:
    """The run's collection; made anew (and linked to the scene) if it was deleted meanwhile."""
    if existing is not None:
        try:
            if existing.name in bpy.data.collections and existing.name in scene.collection.children:
                return existing
        except ReferenceError:  # the artist deleted it while the job ran
            pass
    collection = bpy.data.collections.new(name)
    scene.collection.children.link(collection)
    return collection
