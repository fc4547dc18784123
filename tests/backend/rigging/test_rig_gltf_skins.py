"""The rig as glTF skin files: a GLB whose mesh has a glTF skin by the spec, the Khronos validator's verdict,
each joint node turned along its bone with the bind pose the rest pose, a skeleton read from a skin (turned
joints, kept tails or none, Blender's own export included), Blender's importer building an armature that
deforms the mesh, Blender's roll and its exporter's axis turn (issue 65, items 4, 5). The ``rig`` command's
files are ``test_rig_command``'s."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pygltflib
import pytest

from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.rigging.bone_axes import roll_zero_frame
from img23d_backend.gltf.frame import to_gltf
from img23d_backend.rigging.gltf_joints import read_skeleton
from img23d_backend.gltf.made_by import MadeBy
from img23d_backend.gltf.writer import write_gltf
from rig_bone_files import quadruped_glb
from rig_glb_files import VALIDATE_JS, VALIDATOR, _rigged, _textured_biped
from rig_meshes import biped


def test_the_rigged_glb_keeps_its_texture_and_carries_a_skin_by_the_spec(tmp_path: Path) -> None:
    rigged = pygltflib.GLTF2().load(str(_rigged(tmp_path)))
    [primitive] = rigged.meshes[0].primitives
    assert primitive.attributes.TEXCOORD_0 is not None and rigged.images and rigged.textures
    assert rigged.materials[primitive.material].pbrMetallicRoughness.baseColorTexture is not None
    joints, weights = rigged.accessors[primitive.attributes.JOINTS_0], rigged.accessors[primitive.attributes.WEIGHTS_0]
    assert (joints.type, joints.componentType) == ("VEC4", pygltflib.UNSIGNED_SHORT)
    assert (weights.type, weights.componentType) == ("VEC4", pygltflib.FLOAT)
    [skin] = rigged.skins
    binds = rigged.accessors[skin.inverseBindMatrices]
    assert (binds.type, binds.componentType, binds.count) == ("MAT4", pygltflib.FLOAT, len(skin.joints))
    assert [rigged.nodes[j].name for j in skin.joints] == list(biped().skeleton.names)
    values = gltf_scene.accessor(rigged, primitive.attributes.WEIGHTS_0)
    assert np.abs(values.sum(axis=1, dtype=np.float32) - 1).max() <= 2e-7


@pytest.mark.skipif(shutil.which("node") is None or not VALIDATOR.is_dir(),
                    reason="the Khronos glTF validator (npm gltf-validator) is not installed here")
def test_the_khronos_validator_finds_no_error_and_no_warning(tmp_path: Path) -> None:
    script = tmp_path / "validate.js"
    script.write_text(VALIDATE_JS)
    quadruped_glb(tmp_path / "quadruped.glb")   # joints turned every way, one pointing -Y
    quadruped_glb(tmp_path / "placed.glb", mesh_at=(0.25, 0.0, -0.5))   # the skeleton under an Armature node
    for rigged in (_rigged(tmp_path), tmp_path / "quadruped.glb", tmp_path / "placed.glb"):
        out = subprocess.run(["node", str(script), str(VALIDATOR), str(rigged)], capture_output=True,
                             text=True, timeout=60, check=True)
        issues = json.loads(out.stdout)
        warned = {message["code"] for message in issues["messages"] if message["severity"] == 1}
        # A skinned mesh whose node the source file placed is warned of (its transform is ignored, glTF 2.0
        # section 3.7.3.3; the inverse bind matrices carry it): the source's node, kept as it was.
        allowed = {"NODE_SKINNED_MESH_LOCAL_TRANSFORMS"} if rigged.name == "placed.glb" else set()
        assert issues["numErrors"] == 0 and warned <= allowed, (rigged.name, issues["messages"])


def _skinned_bind_pose(gltf) -> np.ndarray:
    """The first skinned primitive's vertices as glTF 2.0 section 3.7.3.3 skins them, in the nodes' pose:
    sum over a vertex's four joints of weight x joint's world matrix x inverse bind matrix x position."""
    [node] = [node for node in gltf.nodes if node.skin is not None]
    attributes = gltf.meshes[node.mesh].primitives[0].attributes
    skin = gltf.skins[node.skin]
    world = gltf_scene.world_matrices(gltf)
    binds = gltf_scene.accessor(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    moves = np.stack([world[joint] for joint in skin.joints]) @ binds.astype(np.float64)
    local = gltf_scene.accessor(gltf, attributes.POSITION)
    points = np.concatenate([local.astype(np.float64), np.ones((len(local), 1))], axis=1)
    joints, weights = gltf_scene.accessor(gltf, attributes.JOINTS_0), gltf_scene.accessor(gltf, attributes.WEIGHTS_0)
    each = np.einsum("vkij,vj->vki", moves[joints.astype(np.int64)], points)
    return (weights[:, :, None] * each).sum(axis=1)[:, :3]


def test_each_joint_node_turns_its_own_y_along_its_bone_and_the_bind_pose_is_the_rest_pose(tmp_path: Path) -> None:
    """The importer of Blender 4.2 to 5.2 draws a bone along its node's +Y: a node with a translation only is
    a bone pointing straight up (13 of 13 on this quadruped before). The mesh node is placed away from the
    origin, so the inverse bind matrices must carry that placement for the mesh to stay where it is."""
    made = quadruped_glb(tmp_path / "quadruped.glb", mesh_at=(0.25, 0.0, -0.5))
    gltf = gltf_scene.load(tmp_path / "quadruped.glb")
    world = gltf_scene.world_matrices(gltf)
    joints = gltf.skins[0].joints
    assert [gltf.nodes[joint].name for joint in joints] == list(made.skeleton.names)
    along = np.stack([world[joint][:3, 1] / np.linalg.norm(world[joint][:3, 1]) for joint in joints])
    bones = to_gltf(made.skeleton.tails - made.skeleton.heads)
    bones /= np.linalg.norm(bones, axis=1, keepdims=True)
    degrees = np.degrees(np.arccos(np.clip((along * bones).sum(axis=1), -1, 1)))
    assert degrees.max() < 0.01, dict(zip(made.skeleton.names, degrees.round(2)))
    heads = np.stack([world[joint][:3, 3] for joint in joints])
    assert np.abs(heads - to_gltf(made.skeleton.heads)).max() < 1e-6
    assert np.abs(_skinned_bind_pose(gltf) - to_gltf(made.positions)).max() < 1e-5


def test_a_skeleton_written_is_read_back_as_it_was(tmp_path: Path) -> None:
    read = read_skeleton(_rigged(tmp_path))
    given = biped().skeleton
    assert read.names == given.names and read.parents == given.parents
    assert np.allclose(read.heads, given.heads, atol=1e-5) and np.allclose(read.tails, given.tails, atol=1e-5)


def _degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The angle between each row of ``a`` and of ``b``."""
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def test_a_quadruped_written_reads_back_along_its_limbs_with_or_without_its_kept_tails(tmp_path: Path) -> None:
    made = quadruped_glb(tmp_path / "quadruped.glb")
    given = made.skeleton
    read = read_skeleton(tmp_path / "quadruped.glb")
    assert _degrees(read.tails - read.heads, given.tails - given.heads).max() < 1.0
    true_lengths = np.linalg.norm(given.tails - given.heads, axis=1)
    assert np.abs(np.linalg.norm(read.tails - read.heads, axis=1) / true_lengths - 1).max() < 0.01
    # Without img23d's kept tails (a tool that drops extras): every direction from the nodes' own +Y.
    gltf = gltf_scene.load(tmp_path / "quadruped.glb")
    for node in gltf.nodes:
        node.extras = {}
    write_gltf(gltf, tmp_path / "bare.glb", MadeBy())
    bare = read_skeleton(tmp_path / "bare.glb")
    assert bare.names == given.names and np.allclose(bare.heads, given.heads, atol=1e-6)
    assert _degrees(bare.tails - bare.heads, given.tails - given.heads).max() < 1.0


# A skeleton as Blender's exporter writes one (glTF's frame, +Y up; quaternions [x, y, z, w]): the hips point
# up, the legs (children of the hips, off its axis) down, the tail back (img23d's +Y, glTF's -Z).
HALF = float(np.sqrt(0.5))
EXPORTED = (("hips", None, (0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0)),
            ("spine", "hips", (0.0, 0.3, 0.0), (0.0, 0.0, 0.0, 1.0)),
            ("thigh.L", "hips", (0.12, -0.05, 0.0), (0.0, 0.0, 1.0, 0.0)),
            ("shin.L", "thigh.L", (0.0, 0.45, 0.0), (0.0, 0.0, 0.0, 1.0)),
            ("thigh.R", "hips", (-0.12, -0.05, 0.0), (0.0, 0.0, 1.0, 0.0)),
            ("tail", "hips", (0.0, 0.05, -0.15), (-HALF, 0.0, 0.0, HALF)))


def _exported_skeleton(path: Path, rotations: bool) -> Path:
    gltf = gltf_scene.load(_textured_biped(tmp_biped := path.with_name("body.glb")))
    first = len(gltf.nodes)
    names = [row[0] for row in EXPORTED]
    for name, _, translation, rotation in EXPORTED:
        gltf.nodes.append(pygltflib.Node(name=name, translation=list(translation),
                                         rotation=list(rotation) if rotations else None))
    for name, parent, _, _ in EXPORTED:
        if parent is not None:
            node = gltf.nodes[first + names.index(parent)]
            node.children = [*(node.children or []), first + names.index(name)]
    gltf.scenes[0].nodes.append(first)
    gltf.skins.append(pygltflib.Skin(joints=list(range(first, first + len(EXPORTED)))))
    write_gltf(gltf, path, MadeBy())
    tmp_biped.unlink()
    return path


def test_a_skeleton_with_turned_joints_reads_its_directions_as_the_file_stores_them(tmp_path: Path) -> None:
    """Each bone along its node's +Y, as Blender's importer shows it: the hips up although its children (the
    legs, the spine, the tail) are mostly off its axis (rebuilt from the children, it pointed 31 degrees
    off); each length as that importer picks it: the nearest child joint's distance (hips: the thighs',
    0.13; thigh.L: its shin's, 0.45), a bone without one its parent's."""
    read = read_skeleton(_exported_skeleton(tmp_path / "exported.glb", rotations=True))
    bones = dict(zip(read.names, read.tails - read.heads))
    expected = {"hips": (0, 0, 0.13), "spine": (0, 0, 0.13), "thigh.L": (0, 0, -0.45), "shin.L": (0, 0, -0.45),
                "thigh.R": (0, 0, -0.13), "tail": (0, 0.13, 0)}
    for name, bone in expected.items():
        assert np.allclose(bones[name], bone, atol=1e-6), (name, bones[name])
    # The same joints with no rotation at all (img23d's rigs before, some tools' now): the file says no
    # direction (every bone straight up in Blender), so each bone points at its children, a leaf goes on.
    flat = read_skeleton(_exported_skeleton(tmp_path / "flat.glb", rotations=False))
    assert np.allclose(flat.tails[0], flat.heads[[1, 2, 4, 5]].mean(axis=0))


def test_blender_imports_an_armature_whose_bones_deform_the_mesh(tmp_path: Path) -> None:
    bpy = pytest.importorskip("bpy")
    rigged = _rigged(tmp_path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(rigged))
    [armature] = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    # (Blender 5's importer also makes an icosphere to draw the bones with: the body is the skinned mesh.)
    [body] = [o for o in bpy.data.objects if o.type == "MESH" and o.vertex_groups]
    names = list(biped().skeleton.names)
    assert [bone.name for bone in armature.data.bones] == names
    assert sorted(group.name for group in body.vertex_groups) == sorted(names)
    assert [m.type for m in body.modifiers] == ["ARMATURE"] and body.modifiers[0].object == armature
    strongest = {group.name: 0 for group in body.vertex_groups}
    for vertex in body.data.vertices:
        best = max(vertex.groups, key=lambda g: g.weight)
        strongest[body.vertex_groups[best.group].name] += 1
    assert all(count > 0 for count in strongest.values()), strongest   # no empty group
    before = np.array([v.co[:] for v in body.evaluated_get(bpy.context.evaluated_depsgraph_get()).data.vertices])
    armature.pose.bones["forearm_L"].rotation_mode = "XYZ"
    armature.pose.bones["forearm_L"].rotation_euler = (0.0, 0.0, 1.0)
    bpy.context.view_layer.update()
    evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
    after = np.array([v.co[:] for v in evaluated.data.vertices])
    moved = np.linalg.norm(after - before, axis=1)
    hand = before[:, 0] > 0.75     # the left forearm's far end (Blender's X is the file's X)
    right = before[:, 0] < -0.3
    assert moved[hand].min() > 0.05 and moved[right].max() < 1e-4


def _new_armature(bpy, name: str):
    """An empty scene holding one armature object named ``name``, active; the object and its data."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    data = bpy.data.armatures.new(name)
    armature = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(armature)
    bpy.context.view_layer.objects.active = armature
    return armature, data


def test_a_skeleton_blender_exports_is_read_with_its_heads_and_directions(tmp_path: Path) -> None:
    bpy = pytest.importorskip("bpy")
    armature, data = _new_armature(bpy, "rig")
    bpy.ops.object.mode_set(mode="EDIT")
    spine = data.edit_bones.new("spine")
    spine.head, spine.tail = (0, 0, 1), (0, 0, 1.5)
    arm = data.edit_bones.new("arm.L")
    arm.head, arm.tail, arm.parent = (0.1, 0, 1.4), (0.6, 0, 1.4), spine
    bpy.ops.object.mode_set(mode="OBJECT")
    box = bpy.data.meshes.new("box")
    box.from_pydata([(x, y, z) for x in (-0.3, 0.7) for y in (-0.2, 0.2) for z in (0.9, 1.6)], [],
                    [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)])
    body = bpy.data.objects.new("body", box)
    bpy.context.scene.collection.objects.link(body)
    body.parent = armature
    for name in ("spine", "arm.L"):
        body.vertex_groups.new(name=name).add(list(range(8)), 0.5, "REPLACE")
    body.modifiers.new("rig", "ARMATURE").object = armature
    path = tmp_path / "blender_rig.glb"
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")
    read = read_skeleton(path)
    heads = dict(zip(read.names, read.heads))
    assert set(read.names) == {"spine", "arm.L"} and read.parents[read.names.index("arm.L")] == read.names.index("spine")
    assert np.allclose(heads["spine"], (0, 0, 1), atol=1e-5) and np.allclose(heads["arm.L"], (0.1, 0, 1.4), atol=1e-5)
    # Directions as the file stores them: the spine up although its child, the arm, starts off its axis
    # (rebuilt from the children, it pointed 14 degrees off); lengths as Blender's own import of the file.
    bones = dict(zip(read.names, read.tails - read.heads))
    assert _degrees(np.array([bones["spine"], bones["arm.L"]]), np.array([(0, 0, 1), (1, 0, 0)])).max() < 1e-3
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(path))
    [imported] = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    for name, bone in bones.items():
        assert abs(np.linalg.norm(bone) - imported.data.bones[name].length) < 1e-5, name


def test_the_roll_is_the_one_blender_gives_a_bone_made_from_its_head_and_tail() -> None:
    """``bone_axes.roll_zero_frame`` against Blender's own edit bones, every way a bone may point: the axes
    and the bones near -Y, where Blender's roll 0 turns half a turn within a few hundredths of a degree."""
    bpy = pytest.importorskip("bpy")
    _, data = _new_armature(bpy, "rolls")
    steps = np.linspace(-1, 1, 5)
    directions = [(x, y, z) for x in steps for y in steps for z in steps if (x, y, z) != (0, 0, 0)]
    directions += [(0, -1, 0), (2e-4, -1, 0), (0, -1, 2e-4), (1e-3, -1, 1e-3), (0, -1, 1e-2), (0, 1, 0)]
    bpy.ops.object.mode_set(mode="EDIT")
    for number, direction in enumerate(directions):
        bone = data.edit_bones.new(f"b{number}")
        bone.head, bone.tail = (0, 0, 0), direction
    bpy.ops.object.mode_set(mode="OBJECT")
    for number, direction in enumerate(directions):
        blender = np.array(data.bones[f"b{number}"].matrix_local.to_3x3())
        assert np.abs(blender - roll_zero_frame(np.array(direction, float))).max() < 1e-5, direction


def test_the_axis_turn_is_the_one_blenders_exporter_makes_on_an_asymmetric_mesh(tmp_path: Path) -> None:
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # No two coordinates alike and no symmetry: a mirror or a swapped axis cannot pass unseen.
    points = [(0.0, 0.0, 0.0), (1.0, 0.1, 0.2), (0.3, -2.0, 0.4), (0.2, 0.5, 3.0)]
    data = bpy.data.meshes.new("wedge")
    data.from_pydata(points, [], [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)])
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("wedge", data))
    path = tmp_path / "wedge.glb"
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")
    gltf = gltf_scene.load(path)
    written = gltf_scene.accessor(gltf, gltf.meshes[0].primitives[0].attributes.POSITION).astype(float)
    expected = to_gltf(np.array(points))
    # The exporter may split or reorder vertices: every written one must be a turned original, and back.
    assert all(np.abs(expected - row).max(axis=1).min() < 1e-6 for row in written)
    back = gltf_scene.gather_mesh(gltf).positions
    assert all(np.abs(np.array(points) - row).max(axis=1).min() < 1e-6 for row in back)
    assert len({tuple(np.round(row, 6)) for row in back}) == len(points)   # every corner came back
