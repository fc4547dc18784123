"""What a rig and a split put into an artist's scene, built in real Blender from handmade results (no backend):
each case one an artist's scene holds and a review found wrong. The armature follows the mesh's parent with an even
scale; a second rig takes the first one's place; a mesh that cannot take a rig is one
sentence and nothing is built; Pose Test reads bone names by their words; parts land in an excluded collection;
Rig Selected takes the selected mesh, not an unselected active one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import _module  # noqa: E402
from img23d_protocol import RigBone  # noqa: E402
from mathutils import Matrix, Vector  # noqa: E402

# A bar along X from -1 to 1: its left half (x > 0, the character's left) on arm_L, the rest on hips.
BONES = [RigBone("hips", (0.0, 0.0, 0.0), (0.0, 0.0, 0.5), -1), RigBone("arm_L", (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 0)]


def _bar(name: str = "hero") -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    xs = np.linspace(-1.0, 1.0, 9)
    vertices = [(x, y, z) for x in xs for y in (-0.1, 0.1) for z in (-0.1, 0.1)]
    faces = [(4 * i + a, 4 * i + b, 4 * (i + 1) + b, 4 * (i + 1) + a)
             for i in range(len(xs) - 1) for a, b in ((0, 1), (1, 3), (3, 2), (2, 0))]
    mesh.from_pydata(vertices, [], faces)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _weights(addon, obj: bpy.types.Object):
    left = np.array([v.co.x > 0 for v in obj.data.vertices])
    joints = np.zeros((len(left), 4), np.int64)
    joints[left, 0] = 1
    weights = np.zeros((len(left), 4))
    weights[:, 0] = 1.0
    return addon.rig_objects.VertexWeights(joints=joints, weights=weights)


def _rig(addon, obj: bpy.types.Object, name: str = "hero rig") -> bpy.types.Object:
    rig_objects = addon.rig_objects
    armature = rig_objects.build_armature(obj, BONES, name, "test")
    rig_objects.bind(obj, armature, [bone.name for bone in BONES], _weights(addon, obj))
    return armature


def _deformed(obj: bpy.types.Object) -> np.ndarray:
    bpy.context.view_layer.update()
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    points = np.array([obj.matrix_world @ v.co for v in mesh.vertices])
    evaluated.to_mesh_clear()
    return points


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_a_second_rig_takes_the_first_ones_place_in_the_stack(addon, scene) -> None:
    """Rigged again, the mesh kept both rigs, the old one still moving it and Pose Test swinging it. The new armature
    takes the old modifier, where it stood in the stack (last, as Blender's own parenting adds it)."""
    bar = _bar()
    bar.modifiers.new("Mirror", "MIRROR")
    first = _rig(addon, bar)
    assert [m.type for m in bar.modifiers] == ["MIRROR", "ARMATURE"]
    second = _rig(addon, bar, "hero rig again")
    armatures = [m for m in bar.modifiers if m.type == "ARMATURE"]
    assert len(armatures) == 1 and armatures[0].object == second and armatures[0].name == second.name
    assert addon.rig_objects.armature_of(bar) == second and first.name in bpy.data.objects   # the old rig kept
    rest = _deformed(bar)
    first.pose.bones["arm_L"].rotation_mode = "QUATERNION"
    first.pose.bones["arm_L"].rotation_quaternion = (0.7071, 0.0, 0.0, 0.7071)
    assert np.allclose(_deformed(bar), rest, atol=1e-6), "the old rig still moves the mesh"
    second.pose.bones["arm_L"].rotation_mode = "QUATERNION"
    second.pose.bones["arm_L"].rotation_quaternion = (0.7071, 0.0, 0.0, 0.7071)   # the left arm forward
    assert np.abs(_deformed(bar) - rest).max() > 0.1


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_the_armature_follows_the_meshs_parent_with_an_even_scale(addon, scene) -> None:
    """The armature copied the mesh's world matrix with no parent (a part under its Empty, the Empty moved, left
    the rig behind) and its uneven scale (a limb turned under a scale of (1, 1, 3) was squashed)."""
    holder = bpy.data.objects.new("holder", None)
    bpy.context.scene.collection.objects.link(holder)
    holder.location = (5.0, 0.0, 0.0)
    bar = _bar()
    bar.parent, bar.scale = holder, (1.0, 1.0, 3.0)
    bpy.context.view_layer.update()
    armature = _rig(addon, bar)
    assert armature.parent == holder
    scale = armature.matrix_world.to_scale()
    assert max(scale) - min(scale) < 1e-6
    bone = armature.data.bones["arm_L"]
    tail = armature.matrix_world @ bone.tail_local
    assert (tail - bar.matrix_world @ Vector(BONES[1].tail)).length < 1e-5   # where the mesh's space puts it
    holder.location = (0.0, 7.0, 0.0)
    bpy.context.view_layer.update()
    assert (armature.matrix_world @ bone.head_local - bar.matrix_world @ Vector(BONES[1].head)).length < 1e-5
    left = np.array([v.co.x > 0.5 for v in bar.data.vertices])
    armature.pose.bones["arm_L"].rotation_mode = "QUATERNION"
    armature.pose.bones["arm_L"].rotation_quaternion = (0.7071, 0.0, 0.7071, 0.0)   # about its own axis (its Y)
    before, after = _deformed(bar)[left], None
    armature.pose.bones["arm_L"].rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
    after = _deformed(bar)[left]
    spread = lambda points: np.ptp(points[:, 1:], axis=0)   # noqa: E731  (across the arm: Y and Z)
    assert sorted(spread(before)) == pytest.approx(sorted(spread(after)), abs=1e-4), "the turned arm changed shape"


def test_a_mesh_that_cannot_take_a_rig_is_one_sentence_and_nothing_is_built(addon, scene) -> None:
    """In Edit Mode when the rig came back, bind failed after the armature was built (left with empty groups and a
    traceback); in an excluded collection an armature without bones was left."""
    rig_objects = addon.rig_objects
    bar = _bar()
    bpy.context.view_layer.objects.active = bar
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        with pytest.raises(rig_objects.RigProblem, match="'hero' is in Edit Mode: go back to Object Mode to rig it"):
            rig_objects.check_can_rig(bar, "rig it")
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    kept = bpy.data.collections.new("kept")
    bpy.context.scene.collection.children.link(kept)
    bpy.context.scene.collection.objects.unlink(bar)
    kept.objects.link(bar)
    bpy.context.view_layer.layer_collection.children["kept"].exclude = True
    with pytest.raises(rig_objects.RigProblem, match="its collection is excluded"):
        rig_objects.check_can_rig(bar, "rig it")
    armatures = set(bpy.data.armatures)
    with pytest.raises(RuntimeError):
        rig_objects.build_armature(bar, BONES, "hero rig", "test")
    assert set(bpy.data.armatures) == armatures and "hero rig" not in bpy.data.objects


def test_pose_test_reads_limbs_and_sides_by_their_words(addon, scene) -> None:
    """'Armature' swung the whole figure as an arm, 'Door_Handle' as a hand, and 'upper_leg_R' turned as a left leg."""
    names = ["Armature", "Door_Handle", "Bip001 L UpperArm", "Bip001 R UpperArm", "upper_leg_R", "L_Thigh",
             "forearm_l", "LeftArm"]
    bones = [RigBone(name, (i, 0.0, 0.0), (i, 0.0, 1.0), -1) for i, name in enumerate(names)]
    armature = addon.rig_objects.build_armature(_bar(), bones, "many", "test")
    swung = addon.rig_objects.pose_test(armature)
    assert sorted(swung) == sorted(names[2:])
    sign = {name: np.sign(armature.pose.bones[name].rotation_quaternion.x) for name in swung}
    assert sign["Bip001 L UpperArm"] == sign["L_Thigh"] == sign["forearm_l"] == sign["LeftArm"] == -1
    assert sign["Bip001 R UpperArm"] == sign["upper_leg_R"] == 1


def test_parts_land_in_an_excluded_collection_and_the_original_is_kept(addon, scene, tmp_path: Path) -> None:
    """The original's collection excluded: hiding and selecting raised after the parts were linked."""
    import trimesh   # the backend's environment's (Blender 4.2's has none: this module is collected there too)

    files = []
    for name, offset in (("top", 1.0), ("bottom", -1.0)):
        trimesh.creation.box(extents=(1, 1, 1)).apply_translation((0, offset, 0)).export(tmp_path / f"{name}.glb")
        files.append((name, tmp_path / f"{name}.glb"))
    lamp = _bar("lamp")
    shelf = bpy.data.collections.new("shelf")
    bpy.context.scene.collection.children.link(shelf)
    bpy.context.scene.collection.objects.unlink(lamp)
    shelf.objects.link(lamp)
    bpy.context.view_layer.layer_collection.children["shelf"].exclude = True
    placed = addon.part_objects.place_parts(lamp, files, str(tmp_path))
    assert [obj.name for obj in placed.parts] == ["top", "bottom"] and lamp.hide_render
    assert placed.collection.name in shelf.children


def test_rig_selected_takes_the_selected_mesh_not_an_unselected_active_one(addon, scene) -> None:
    rig = _module(addon, "operators.rig")
    picked, old = _bar("picked"), _bar("old active")
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    picked.select_set(True)
    bpy.context.view_layer.objects.active = old
    assert rig._selected_mesh(bpy.context, "rig it") == picked


def test_split_into_parts_sends_the_mesh_as_its_modifiers_make_it_and_a_rig_its_own_vertices(addon, scene) -> None:
    """A half modelled with a Mirror was split as its half, and the whole hidden behind the parts; a rig's weights
    are its own vertices', so it is sent without the Mirror."""
    from img23d_protocol.mesh_file import read_mesh_file

    inputs = _module(addon, "operators._inputs")
    bar = _bar()
    bar.modifiers.new("Mirror", "MIRROR")
    whole = read_mesh_file(Path(inputs.mesh_file(bpy.context, bar, evaluated=True)))
    own = read_mesh_file(Path(inputs.mesh_file(bpy.context, bar)))
    # The Mirror doubles the bar but for the 4 vertices on its plane, which it merges.
    count = len(bar.data.vertices)
    assert own.positions.shape[0] == count and whole.positions.shape[0] == 2 * count - 4


def test_parts_stand_where_a_constrained_original_stands(addon, scene, tmp_path: Path) -> None:
    """The Empty took the original's parent and transform but not its constraints: with a Copy Location the original
    stood at its target and its parts where it was modelled."""
    import trimesh   # the backend's environment's (Blender 4.2's has none)

    trimesh.creation.box(extents=(1, 1, 1)).export(tmp_path / "top.glb")
    lamp, target = _bar("lamp"), bpy.data.objects.new("target", None)
    bpy.context.scene.collection.objects.link(target)
    target.location = (5.0, 1.0, 0.0)
    lamp.constraints.new("COPY_LOCATION").target = target
    placed = addon.part_objects.place_parts(lamp, [("top", tmp_path / "top.glb")], str(tmp_path))
    bpy.context.view_layer.update()
    assert (placed.parts[0].matrix_world.translation - lamp.matrix_world.translation).length < 1e-6
    assert (lamp.matrix_world.translation - target.location).length < 1e-6


def test_skinning_to_the_armature_a_mesh_already_follows_keeps_the_artists_modifier_as_it_is(addon, scene) -> None:
    """Skin to Selected Armature again: the artist's modifier on that armature is the one used, its name and place
    kept (the bind renamed it after the armature)."""
    bar = _bar()
    bar.modifiers.new("Mirror", "MIRROR")
    own = addon.rig_objects.build_armature(bar, BONES, "artist rig", "")
    del own[addon.rig_objects.RIGGED_FROM]   # the artist's, not one img23d made
    modifier = bar.modifiers.new("Deform", "ARMATURE")
    modifier.object = own
    addon.rig_objects.bind(bar, own, [bone.name for bone in BONES], _weights(addon, bar))
    assert [(m.name, m.type) for m in bar.modifiers] == [("Mirror", "MIRROR"), ("Deform", "ARMATURE")]


def test_the_armature_follows_its_mesh_when_re_layout_moves_it(addon, scene) -> None:
    """Re-layout moved and scaled a rigged mesh and left its armature: posing the rig then threw the mesh across the
    scene. The armature takes the mesh's move, so a pose deforms the moved mesh as it deformed it before."""
    bar = _bar()
    armature = _rig(addon, bar)
    bone = armature.pose.bones["arm_L"]
    bone.rotation_mode = "QUATERNION"
    bone.rotation_quaternion = (0.7071, 0.0, 0.0, 0.7071)
    posed_before = _deformed(bar)
    rest_before = np.array([bar.matrix_world @ v.co for v in bar.data.vertices])
    before = bar.matrix_world.copy()
    bar.matrix_world = Matrix.LocRotScale((3.0, 4.0, 0.5), None, (1.5, 1.5, 1.5))
    addon.rig_objects.follow_mesh(bar, before)
    moved = np.array(bar.matrix_world) @ np.linalg.inv(np.array(before))
    expect = (np.c_[posed_before, np.ones(len(posed_before))] @ moved.T)[:, :3]
    assert np.allclose(_deformed(bar), expect, atol=1e-4)   # the same pose, moved with the mesh
    assert not np.allclose(rest_before, _deformed(bar), atol=1e-2)
