"""``rig`` given hostile and broken glTF files (issue 73, item 5): every input bounded before the work (faces,
joints, the node graph, the binding's samples), every failure one sentence and a run folder that says ``failed``
(never ``running``), no byte read from outside an accessor's buffer view or outside the source's folder, a
glTF Separate export and a ``data:`` URI read, outputs no more readable than their sources. Small synthetic
files: a box, a skin of a few joints (``rig_box_inputs``). The OBJ, the add-on's mesh file and the signals are
``test_rig_mesh_files_and_signals``'s."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from img23d_protocol import MAX_BONES
from rig_box_inputs import BOX, BOX_TRIANGLES, UINT32, _document, _glb, _gltf, _refused, _rig, within

from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.rigging.gltf_joints import read_skeleton
from img23d_backend.rigging.skeleton import BadSkeleton



# --- memory safety: nothing is read from outside an accessor's buffer view ----------------------------------

@pytest.mark.parametrize("past", [50, 10_000_000], ids=["50 vertices past", "ten million past"])
def test_an_accessor_counting_past_its_buffer_is_refused(tmp_path: Path, past: int) -> None:
    # 50 past once read 600 bytes of the process's memory as vertices and rigged them; far past, a crash.
    document, binary = _document(count=len(BOX) + past)
    message = _refused(_glb(tmp_path / "box.glb", document, binary), tmp_path / "runs")
    assert "past" in message and "accessor 0" in message


def test_triangles_naming_vertices_the_mesh_lacks_are_refused(tmp_path: Path) -> None:
    bad = BOX_TRIANGLES.copy()
    bad[3, 1] = 4_000_000
    message = _refused(_glb(tmp_path / "box.glb", *_document(triangles=bad)), tmp_path / "runs")
    assert "vertices it does not have" in message


def test_triangle_strips_and_fans_are_read_as_their_triangles(tmp_path: Path) -> None:
    """A strip or a fan (glTF's modes 5 and 6) was read as no faces: "has no faces". Each is now its triangles,
    wound as the spec says: the post's side as a strip, its end as a fan, and the list they stand for."""
    side, end = np.array([0, 1, 2, 3], np.uint32), np.array([0, 1, 3, 2], np.uint32)   # y = 0 and x = 0 faces
    for corners, mode, listed in ((side, 5, [[0, 1, 2], [2, 1, 3]]), (end, 6, [[0, 1, 3], [0, 3, 2]])):
        document, binary = _document(triangles=corners)
        document["meshes"][0]["primitives"][0]["mode"] = mode
        gltf = gltf_scene.load(_glb(tmp_path / f"mode{mode}.glb", document, binary))
        assert gltf_scene.gather_mesh(gltf).triangles.tolist() == listed
        assert gltf_scene.triangle_count(gltf) == 2


def test_every_instance_of_a_mesh_is_skinned(tmp_path: Path) -> None:
    """A mesh two nodes use (a pair of eyes, four wheels) was skinned on its first node alone: the other stayed
    still when the bones moved. Each instance now has a mesh, a skin and weights of its own."""
    document, binary = _document()
    document["nodes"].append({"mesh": 0, "name": "twin", "translation": [0.0, 0.0, 0.05]})
    document["scenes"][0]["nodes"].append(1)
    rigged = gltf_scene.load(next(_rig(_glb(tmp_path / "pair.glb", document, binary), tmp_path / "runs")
                                  .glob("*_rigged.glb")))
    meshes = [node.mesh for node in rigged.nodes if node.mesh is not None]
    assert len(set(meshes)) == 2 and all(node.skin is not None for node in rigged.nodes if node.mesh is not None)
    for mesh in meshes:
        weights = gltf_scene.accessor(rigged, rigged.meshes[mesh].primitives[0].attributes.WEIGHTS_0)
        assert len(weights) == len(BOX) and np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def test_a_mirrored_instance_is_wound_outwards(tmp_path: Path) -> None:
    """Known answer: a box placed again by a node of negative scale (a right leg made from the left) encloses the
    same volume, outwards; its winding was kept as written (glTF 2.0, 3.7.4 reverses it) and it faced inwards."""
    document, binary = _document()
    document["meshes"].append(dict(document["meshes"][0]))  # a mesh of its own, as the rig gives each instance
    document["nodes"].append({"mesh": 1, "name": "mirrored", "translation": [1.0, 0.0, 0.0],
                              "scale": [-1.0, 1.0, 1.0]})
    document["scenes"][0]["nodes"].append(1)
    gathered = gltf_scene.gather_mesh(gltf_scene.load(_glb(tmp_path / "pair.glb", document, binary)))
    volumes = []
    for primitive in gathered.primitives:
        first, count = primitive.first_vertex, primitive.vertex_count
        inside = (gathered.triangles >= first) & (gathered.triangles < first + count)
        a, b, c = (gathered.positions[gathered.triangles[inside.all(axis=1)][:, k]] for k in range(3))
        volumes.append(float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0))
    assert len(volumes) == 2 and volumes[0] > 0 and volumes[1] == pytest.approx(volumes[0], rel=1e-6)


def test_a_compressed_mesh_is_refused_in_one_sentence(tmp_path: Path) -> None:
    """A Draco file's accessors hold no data of their own: it was read as vertices all at one point ("zero
    area"). Mesh compression the file needs is named instead."""
    document, binary = _document()
    document["extensionsUsed"] = document["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    message = _refused(_glb(tmp_path / "packed.glb", document, binary), tmp_path / "runs")
    assert "compressed with KHR_draco_mesh_compression, which img23d does not read: export it without mesh " \
        "compression" in message


# --- confidentiality: URIs resolve in the source's folder only; outputs as private as their sources ---------

@pytest.mark.parametrize("where", ["absolute", "up"])
def test_a_buffer_naming_a_file_outside_the_source_folder_is_refused(tmp_path: Path, where: str) -> None:
    document, binary = _document()
    secret = tmp_path / "id_rsa"
    secret.write_bytes(binary)   # a private file that would read as the box itself
    secret.chmod(0o600)
    (tmp_path / "art").mkdir()
    document["buffers"][0]["uri"] = str(secret) if where == "absolute" else "../id_rsa"
    message = _refused(_gltf(tmp_path / "art" / "box.gltf", document), tmp_path / "runs")
    assert "buffer 0" in message and ("not a file beside" in message or "outside" in message)


def test_a_gltf_separate_export_is_rigged_with_its_bin_and_texture_and_stays_private(tmp_path: Path) -> None:
    # As Blender writes "glTF Separate": the .gltf, its .bin and its texture beside it; only the .gltf was
    # copied into the run, so the rig ended in a traceback. The source is its owner's alone (600).
    document, binary = _document(uri="box.bin")
    (tmp_path / "box.bin").write_bytes(binary)
    from PIL import Image
    Image.new("RGB", (4, 4), (200, 90, 40)).save(tmp_path / "skin.png")
    document.update(images=[{"uri": "skin.png"}], textures=[{"source": 0}],
                    materials=[{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}])
    document["meshes"][0]["primitives"][0]["material"] = 0
    source = _gltf(tmp_path / "box.gltf", document)
    for path in (source, tmp_path / "box.bin", tmp_path / "skin.png"):
        path.chmod(0o600)
    run = _rig(source, tmp_path / "runs")
    rigged = gltf_scene.load(run / "box_rigged.glb")
    assert np.allclose(gltf_scene.accessor(rigged, 0), BOX) and rigged.images[0].bufferView is not None
    for output in ("box_rigged.glb", "box_weights.npz"):
        assert (run / output).stat().st_mode & 0o077 == 0, oct((run / output).stat().st_mode)


def test_a_data_uri_buffer_is_read(tmp_path: Path) -> None:
    document, binary = _document()
    document["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(binary).decode()
    run = _rig(_gltf(tmp_path / "box.gltf", document), tmp_path / "runs")
    assert np.allclose(gltf_scene.accessor(gltf_scene.load(run / "box_rigged.glb"), 0), BOX)


# --- bounds before the work: faces, joints, the node graph, the binding's samples ---------------------------

def test_ten_million_faces_are_refused_from_the_files_counts(tmp_path: Path) -> None:
    # The indices hold no bytes (an accessor without a buffer view reads as zeros): what the file says is
    # refused before anything is decoded (a real 10M-face GLB once took 9 GB in 35 s).
    document, binary = _document()
    document["accessors"][1] = {"componentType": UINT32, "count": 30_000_000, "type": "SCALAR"}
    message = _refused(_glb(tmp_path / "box.glb", document, binary), tmp_path / "runs")
    assert "10,000,000 triangles" in message and "5,000,000" in message


def test_a_soup_of_large_triangles_is_refused_with_the_estimate(tmp_path: Path) -> None:
    # Triangles about half as long as the mesh: the binding would sample thousands of points on each; these
    # 20,000 (a 720 KB file) once passed 9 GB in 106 s, and are refused before any is sampled, the estimate said.
    rng = np.random.default_rng(7)
    soup = rng.random((60_000, 3)).astype(np.float32)
    document, binary = _document(soup, np.arange(60_000, dtype=np.uint32).reshape(-1, 3))
    message = _refused(_glb(tmp_path / "soup.glb", document, binary), tmp_path / "runs")
    assert "would sample" in message and "GB" in message and "20,000,000" in message


def test_the_sample_estimate_counts_what_the_binding_samples() -> None:
    from img23d_backend.rigging.limits import surface_samples
    from img23d_backend.rigging.voxels import pitch_for, surface_points

    rng = np.random.default_rng(3)
    positions = rng.random((60, 3))
    triangles = np.arange(60).reshape(-1, 3)
    assert surface_samples(positions, triangles) == len(surface_points(positions, triangles, pitch_for(positions) / 2))


def _skin_file(path: Path, joints: int, cycle: bool = False) -> Path:
    """A skeleton file: a chain of ``joints`` joint nodes, 1 cm apart up the post; with ``cycle``, two
    non-joint nodes above them that are each other's parent (300 bytes once kept the reader walking forever)."""
    nodes = [{"name": f"j{n}", "translation": [0.05, 0.01 if n else 0.1, -0.05],
              **({"children": [n + 1]} if n + 1 < joints else {})} for n in range(joints)]
    if cycle:
        nodes += [{"name": "a", "children": [joints + 1, 0]}, {"name": "b", "children": [joints]}]
    document = {"asset": {"version": "2.0"}, "nodes": nodes, "skins": [{"joints": list(range(joints))}]}
    if not cycle:
        document.update(scene=0, scenes=[{"nodes": [0]}])
    return _gltf(path, document)


def test_a_parent_cycle_among_non_joint_nodes_is_refused_at_once(tmp_path: Path) -> None:
    with within(20), pytest.raises(BadSkeleton, match="cycle"):
        read_skeleton(_skin_file(tmp_path / "cycle.gltf", 2, cycle=True))


def test_a_node_tree_deeper_than_the_bound_is_refused(tmp_path: Path) -> None:
    with within(20), pytest.raises(BadSkeleton, match="deep"):
        read_skeleton(_skin_file(tmp_path / "deep.gltf", 600))


def test_a_skeleton_of_more_joints_than_the_bound_is_refused(tmp_path: Path) -> None:
    # A 2,000-joint skeleton still ran after 300 s; a flat one (every joint a root) is no deeper than one. The
    # bound is the protocol's (test_rig_limits tries one joint past it).
    nodes = [{"name": f"j{n}", "translation": [0.05, 0.1 + n * 0.0004, -0.05]} for n in range(2_000)]
    skeleton = _gltf(tmp_path / "many.gltf", {"asset": {"version": "2.0"}, "nodes": nodes,
                                               "skins": [{"joints": list(range(2_000))}]})
    with within(60):
        message = _refused(_glb(tmp_path / "box.glb", *_document()), tmp_path / "runs", skeleton)
    assert "2,000 joints" in message and f"{MAX_BONES}" in message


# --- tracebacks: NaN, inf, one point, malformed files: one sentence each, the run closed -------------------

@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["NaN", "inf"])
def test_positions_that_are_not_finite_are_refused(tmp_path: Path, value: float) -> None:
    points = BOX.copy()
    points[2, 1] = value
    message = _refused(_glb(tmp_path / "box.glb", *_document(points)), tmp_path / "runs")
    assert "not a finite number" in message and "one point" not in message


def test_a_mesh_on_one_point_is_refused_as_having_no_surface(tmp_path: Path) -> None:
    message = _refused(_glb(tmp_path / "box.glb", *_document(np.full_like(BOX, 0.5))), tmp_path / "runs")
    assert "no surface" in message


def _malformed(kind: str) -> tuple[dict, bytes]:
    document, binary = _document()
    if kind == "no componentType":
        del document["accessors"][0]["componentType"]
    elif kind == "unknown type":
        document["accessors"][0]["type"] = "VEC7"
    elif kind == "no such accessor":
        document["meshes"][0]["primitives"][0]["indices"] = 9
    elif kind == "no such mesh":
        document["nodes"][0]["mesh"] = 4
    elif kind == "no such child":
        document["nodes"][0]["children"] = [3]
    elif kind == "view past its buffer":
        document["bufferViews"][1]["byteLength"] = 4096
    elif kind == "short matrix":
        document["nodes"][0]["matrix"] = [1, 0, 0]
    return document, binary


@pytest.mark.parametrize("kind", ["no componentType", "unknown type", "no such accessor", "no such mesh",
                                  "no such child", "view past its buffer", "short matrix"])
def test_a_malformed_file_is_one_sentence(tmp_path: Path, kind: str) -> None:
    _refused(_glb(tmp_path / "box.glb", *_malformed(kind)), tmp_path / "runs")


@pytest.mark.parametrize("cut", [6, 17, 200], ids=["in the header", "in the JSON's header", "in the binary"])
def test_a_truncated_glb_is_one_sentence(tmp_path: Path, cut: int) -> None:
    whole = _glb(tmp_path / "whole.glb", *_document()).read_bytes()
    (tmp_path / "box.glb").write_bytes(whole[:cut] if cut < 100 else whole[:-cut % len(whole)])
    assert _refused(tmp_path / "box.glb", tmp_path / "runs").startswith("box.glb ")
