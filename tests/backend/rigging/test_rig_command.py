"""The ``rig`` command end to end: a rig from the shape alone said so (Mixamo's names or not), its
one-sentence refusals, the add-on's mesh file rigged in its GLB's frame, SkinTokens' tiny replica rigging every
vertex (Blender deforms with it, the Khronos validator accepts it), the geometric binding standing in for
SkinTokens' missing files, and the rig carried to every level of detail (issue 65, item 7). The files' glTF skin
itself is ``test_rig_gltf_skins``'s."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import trimesh

from img23d_backend.commands import cli
from img23d_backend.jobs.kinds import rig as rig_job  # noqa: F401  (its heavy imports before capsys swaps stdout:
# a library that keeps the stream it found at import would keep the command's wrapper past the test)
from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.gltf.frame import to_gltf
from img23d_backend.rigging.geometric import bind
from img23d_backend.rigging.gltf_joints import read_skeleton
from img23d_backend.gltf.made_by import MadeBy
from img23d_backend.gltf.writer import write_gltf
from img23d_backend.rigging.gltf_skin import add_skin
import glb_credits
from rig_glb_files import VALIDATE_JS, VALIDATOR, _rigged, _textured_biped
from rig_meshes import biped


def test_the_rig_command_rigs_from_the_shape_alone_and_says_so(tmp_path: Path, capsys) -> None:
    source = _textured_biped(tmp_path / "hero.glb")
    assert cli.main(["rig", str(source), "--weights", "geometric", "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "a skeleton from the shape alone" in out and "Mixamo" in out
    [run] = (tmp_path / "runs").iterdir()
    record = json.loads((run / "rig.json").read_text())
    assert record["skeleton_source"] == "shape" and record["humanoid"]
    assert {"Hips", "Spine", "Head", "LeftArm", "RightUpLeg"} <= {bone["name"] for bone in record["bones"]}
    assert json.loads((run / "manifest.json").read_text())["status"] == "finished"
    assert read_skeleton(run / "hero_rigged.glb").count == len(record["bones"])
    assert cli.main(["rig", str(source), "--weights", "geometric", "--no-humanoid-names",
                     "--out", str(tmp_path / "runs2")]) == 0
    assert "spine_01" in capsys.readouterr().out


def test_the_rig_command_refuses_bad_input_in_one_sentence(tmp_path: Path, capsys) -> None:
    source = _textured_biped(tmp_path / "hero.glb")
    runs = str(tmp_path / "runs")
    assert cli.main(["rig", str(source), "--skeleton", str(source), "--out", runs]) == 2
    assert "has no skin with joints" in capsys.readouterr().err
    far = biped().skeleton
    far = far.moved(far.heads + [50, 0, 0], far.tails + [50, 0, 0])
    gltf = gltf_scene.load(_textured_biped(tmp_path / "other.glb"))
    mesh = gltf_scene.gather_mesh(gltf)
    add_skin(gltf, mesh, far, bind(mesh.positions + [50, 0, 0], mesh.triangles, far).skin)
    write_gltf(gltf, tmp_path / "far.glb", MadeBy())
    assert cli.main(["rig", str(source), "--skeleton", str(tmp_path / "far.glb"), "--out", runs]) == 2
    assert "outside the mesh" in capsys.readouterr().err
    points = tmp_path / "points.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(str(points))
    assert cli.main(["rig", str(points), "--weights", "geometric", "--out", runs]) == 2
    err = capsys.readouterr().err
    assert "no surface" in err or "no mesh" in err


def test_the_addons_mesh_file_rigs_in_the_same_frame_as_its_glb(tmp_path: Path, capsys) -> None:
    from img23d_backend.readers.meshes import artist_mesh_file

    source = _textured_biped(tmp_path / "hero.glb")
    with artist_mesh_file(source) as npz:
        assert cli.main(["rig", str(npz), "--weights", "geometric", "--out", str(tmp_path / "runs")]) == 0
    [run] = (tmp_path / "runs").iterdir()
    bones = {bone["name"]: bone for bone in json.loads((run / "rig.json").read_text())["bones"]}
    assert bones["Head"]["tail"][2] > 1.7 and bones["LeftHand"]["tail"][0] > 0.6   # Z up, left on +X
    capsys.readouterr()


@pytest.fixture(scope="module")
def tiny_model_rig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``rig MESH --models tiny``: SkinTokens' tiny replica (written on first use) rigs the biped; its run."""
    folder = tmp_path_factory.mktemp("tiny-rig")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMG23D_TINY_MODELS", str(folder / "tiny"))
        source = _textured_biped(folder / "hero.glb")
        assert cli.main(["rig", str(source), "--models", "tiny", "--seed", "2", "--out", str(folder / "runs")]) == 0
    # Through Session, the rig's own replica alone: none of the tiny set's (10 s to build), which it never reads.
    assert [child.name for child in (folder / "tiny").iterdir() if not child.name.startswith(".")] == ["skintokens"]
    [run] = (folder / "runs").iterdir()
    return run


def test_skintokens_tiny_replica_rigs_every_vertex_and_blender_deforms_with_it(tiny_model_rig: Path) -> None:
    record = json.loads((tiny_model_rig / "rig.json").read_text())
    assert record["skeleton_source"] == "SkinTokens" and record["weights"] == "model"
    with np.load(tiny_model_rig / "hero_weights.npz") as data:
        weights = data["weights"]
    assert len(weights) == len(biped().positions) and np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(tiny_model_rig / "hero_rigged.glb"))
    [armature] = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    [body] = [o for o in bpy.data.objects if o.type == "MESH" and o.vertex_groups]
    assert [m.type for m in body.modifiers] == ["ARMATURE"] and body.modifiers[0].object == armature
    assert all(vertex.groups for vertex in body.data.vertices)   # every vertex weighted


@pytest.mark.skipif(shutil.which("node") is None or not VALIDATOR.is_dir(),
                    reason="the Khronos glTF validator (npm gltf-validator) is not installed here")
def test_the_khronos_validator_accepts_skintokens_rig(tiny_model_rig: Path, tmp_path: Path) -> None:
    script = tmp_path / "validate.js"
    script.write_text(VALIDATE_JS)
    out = subprocess.run(["node", str(script), str(VALIDATOR), str(tiny_model_rig / "hero_rigged.glb")],
                         capture_output=True, text=True, timeout=60, check=True)
    issues = json.loads(out.stdout)
    assert issues["numErrors"] == 0, issues["messages"]
    # The rigged file names the model that rigged it, with its licence (gltf.made_by).
    assert glb_credits.models(tiny_model_rig / "hero_rigged.glb") == {"rigging": "tiny/skintokens"}


def test_without_skintokens_files_the_geometric_binding_stands_in_and_says_so(tmp_path: Path, capsys,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    source = _textured_biped(tmp_path / "hero.glb")
    assert cli.main(["rig", str(source), "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "SkinTokens could not be read" in out and "the geometric binding made the weights" in out


def test_the_rig_is_carried_to_every_level_of_detail(tmp_path: Path, capsys) -> None:
    """``rig HIGH --skeleton FILE --also LOW``: the low level gets the same skeleton, each vertex weighted as the
    high surface it sits on (nearest-surface transfer): its vertices follow their own bones."""
    high = biped(rings=12, sides=16)
    low = biped(rings=4, sides=6)
    for made, path in ((high, tmp_path / "hero.glb"), (low, tmp_path / "hero_lod1.glb")):
        trimesh.Trimesh(to_gltf(made.positions), made.triangles, process=False).export(str(path))
    skeleton_file = _rigged(tmp_path)   # the true skeleton, as a GLB's skin
    assert cli.main(["rig", str(tmp_path / "hero.glb"), "--weights", "geometric", "--skeleton", str(skeleton_file),
                     "--also", str(tmp_path / "hero_lod1.glb"), "--out", str(tmp_path / "runs")]) == 0
    assert "also rigged:" in capsys.readouterr().out
    [run] = (tmp_path / "runs").iterdir()
    assert json.loads((run / "rig.json").read_text())["also_rigged"] == ["hero_lod1_rigged.glb"]
    rigged = gltf_scene.load(run / "hero_lod1_rigged.glb")
    assert read_skeleton(run / "hero_lod1_rigged.glb").names == low.skeleton.names   # one skeleton for all
    primitive = rigged.meshes[0].primitives[0].attributes
    joints, weights = gltf_scene.accessor(rigged, primitive.JOINTS_0), gltf_scene.accessor(rigged, primitive.WEIGHTS_0)
    strongest = joints[np.arange(len(joints)), weights.argmax(axis=1)]
    assert len(strongest) == len(low.positions) and np.mean(strongest == low.truth) > 0.8


def test_levels_of_detail_of_one_file_name_keep_every_rig(tmp_path: Path, capsys) -> None:
    """Levels kept as lod0/hero.glb and lod1/hero.glb: the second was written as hero_rigged.glb over the first's
    rig (the printed 'rigged:' file then held the low level, and the weights file no longer fitted it). Each
    level now keeps a file of its own."""
    high, low = biped(rings=12, sides=16), biped(rings=4, sides=6)
    for made, folder in ((high, tmp_path / "lod0"), (low, tmp_path / "lod1")):
        folder.mkdir()
        trimesh.Trimesh(to_gltf(made.positions), made.triangles, process=False).export(str(folder / "hero.glb"))
    assert cli.main(["rig", str(tmp_path / "lod0" / "hero.glb"), "--weights", "geometric",
                     "--also", str(tmp_path / "lod1" / "hero.glb"), "--also", str(tmp_path / "lod1" / "hero.glb"),
                     "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    [run] = (tmp_path / "runs").iterdir()
    levels = json.loads((run / "rig.json").read_text())["also_rigged"]
    assert levels == ["hero_lod1_rigged.glb", "hero_lod2_rigged.glb"], levels
    assert f"rigged: {run / 'hero_rigged.glb'} ({len(high.positions):,} vertices" in out
    for name, made in (("hero_rigged.glb", high), *((level, low) for level in levels)):
        assert len(gltf_scene.gather_mesh(gltf_scene.load(run / name)).positions) == len(made.positions), name


def test_a_mesh_already_skinned_is_refused_in_one_sentence(tmp_path: Path, capsys) -> None:
    """A skinned mesh's rest shape is its joints' (its node's own transform is ignored): a Blender export with its
    armature at 0.01 scale was rigged at a hundredth of its size, and re-rigging a rig kept the old joints and
    influences beside the new. Such a mesh, or level, is refused; as a --skeleton it is read as before."""
    source = _textured_biped(tmp_path / "hero.glb")
    assert cli.main(["rig", str(source), "--weights", "geometric", "--out", str(tmp_path / "first")]) == 0
    [first] = (tmp_path / "first").iterdir()
    capsys.readouterr()
    for args in ([str(first / "hero_rigged.glb")], [str(source), "--also", str(first / "hero_rigged.glb")]):
        assert cli.main(["rig", *args, "--weights", "geometric", "--out", str(tmp_path / "again")]) == 2
        [sentence] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert "hero_rigged.glb is already skinned (to " in sentence and "rig the mesh without its armature" \
            in sentence, sentence
    assert cli.main(["rig", str(source), "--skeleton", str(first / "hero_rigged.glb"),
                     "--out", str(tmp_path / "bound")]) == 0


def test_a_file_that_names_no_scene_is_rigged_into_one(tmp_path: Path, capsys) -> None:
    """glTF's ``scenes`` is optional (the nodes then stand alone): the rig added its joints to scene 0 and failed
    with a traceback ("unexpected IndexError"). The file's parentless nodes now become its one scene, with the
    joints' roots."""
    gltf = gltf_scene.load(_textured_biped(tmp_path / "hero.glb"))
    gltf.scenes, gltf.scene = [], None
    gltf.save_binary(str(tmp_path / "loose.glb"))
    assert cli.main(["rig", str(tmp_path / "loose.glb"), "--weights", "geometric",
                     "--out", str(tmp_path / "runs")]) == 0
    [run] = (tmp_path / "runs").iterdir()
    rigged = gltf_scene.load(run / "loose_rigged.glb")
    [scene] = rigged.scenes
    mesh_nodes = [n for n, node in enumerate(rigged.nodes) if node.mesh is not None]
    assert rigged.scene == 0 and set(mesh_nodes) <= set(scene.nodes)
    assert read_skeleton(run / "loose_rigged.glb").count == len(json.loads((run / "rig.json").read_text())["bones"])


def test_a_vertex_no_triangle_uses_leaves_the_skeleton_as_it_was(tmp_path: Path, capsys) -> None:
    """One leftover vertex 20 units off a figure sized the voxel grid on its own: the figure's skeleton from the
    shape became a single bone. The surface is rigged; the leftover takes the weights of the surface nearest it."""
    figure = biped(rings=12, sides=16)
    stray = np.concatenate([figure.positions, [[0.0, 0.0, 20.0]]])
    for name, positions in (("hero", figure.positions), ("stray", stray)):
        trimesh.Trimesh(to_gltf(positions), figure.triangles, process=False).export(str(tmp_path / f"{name}.glb"))
        assert cli.main(["rig", str(tmp_path / f"{name}.glb"), "--weights", "geometric",
                         "--out", str(tmp_path / name)]) == 0
    records = [json.loads(next((tmp_path / name).iterdir()).joinpath("rig.json").read_text())
               for name in ("hero", "stray")]
    assert records[0]["skeleton_source"] == records[1]["skeleton_source"] == "shape"
    assert [b["name"] for b in records[1]["bones"]] == [b["name"] for b in records[0]["bones"]]
    rigged = gltf_scene.load(next((tmp_path / "stray").iterdir()) / "stray_rigged.glb")
    weights = gltf_scene.accessor(rigged, rigged.meshes[0].primitives[0].attributes.WEIGHTS_0)
    assert len(weights) == len(stray) and np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def _quantized_glb(positions: np.ndarray, triangles: np.ndarray, path: Path) -> None:
    """The mesh as gltfpack writes it (KHR_mesh_quantization): positions as normalized shorts in 8-byte strides,
    the node's scale bringing them back to size."""
    import pygltflib

    points = to_gltf(positions)
    scale = float(np.abs(points).max())
    shorts = np.zeros((len(points), 4), "<i2")
    shorts[:, :3] = np.round(points / scale * 32767)
    corners = np.ascontiguousarray(triangles, "<u4").reshape(-1)
    blob = shorts.tobytes() + corners.tobytes()
    gltf = pygltflib.GLTF2(
        scene=0, scenes=[pygltflib.Scene(nodes=[0])], nodes=[pygltflib.Node(mesh=0, scale=[scale] * 3)],
        extensionsUsed=["KHR_mesh_quantization"], extensionsRequired=["KHR_mesh_quantization"],
        meshes=[pygltflib.Mesh(primitives=[pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=0),
                                                                indices=1)])],
        accessors=[pygltflib.Accessor(bufferView=0, componentType=pygltflib.SHORT, normalized=True,
                                      count=len(points), type="VEC3", min=shorts[:, :3].min(0).tolist(),
                                      max=shorts[:, :3].max(0).tolist()),
                   pygltflib.Accessor(bufferView=1, componentType=pygltflib.UNSIGNED_INT, count=len(corners),
                                      type="SCALAR")],
        bufferViews=[pygltflib.BufferView(buffer=0, byteOffset=0, byteLength=shorts.nbytes, byteStride=8),
                     pygltflib.BufferView(buffer=0, byteOffset=shorts.nbytes, byteLength=corners.nbytes)],
        buffers=[pygltflib.Buffer(byteLength=len(blob))])
    gltf.set_binary_blob(blob)
    gltf.save_binary(str(path))


def test_quantized_positions_are_read_as_the_numbers_they_stand_for(tmp_path: Path) -> None:
    """Normalized integer positions (KHR_mesh_quantization) were read as raw integers: a 1.7 m figure's bones
    stood 14,724 m out. They are now the figure itself, its skeleton the float file's to within a quantum."""
    figure = biped(rings=12, sides=16)
    trimesh.Trimesh(to_gltf(figure.positions), figure.triangles, process=False).export(str(tmp_path / "float.glb"))
    _quantized_glb(figure.positions, figure.triangles, tmp_path / "packed.glb")
    read = [gltf_scene.gather_mesh(gltf_scene.load(tmp_path / f"{name}.glb")).positions for name in ("float", "packed")]
    quantum = float(np.abs(figure.positions).max()) / 32767
    assert np.abs(read[0] - read[1]).max() <= quantum
    assert cli.main(["rig", str(tmp_path / "packed.glb"), "--weights", "geometric",
                     "--out", str(tmp_path / "runs")]) == 0
    heads = np.array([bone["head"] for bone in json.loads(next((tmp_path / "runs").iterdir()).joinpath(
        "rig.json").read_text())["bones"]])
    low, high = figure.positions.min(axis=0), figure.positions.max(axis=0)
    assert (heads >= low - 0.01).all() and (heads <= high + 0.01).all()
