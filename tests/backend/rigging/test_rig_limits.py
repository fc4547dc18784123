"""The rig's bounds before its work (issue 88): a glTF's JSON counted before pygltflib builds an object of it (a
file of 420,000 nodes still ran after 300 s; a chain of 100,000 took 72 s to be refused), one bone limit, the
protocol's ``MAX_BONES``, for a skeleton file, the bones sent and the result alike (a 520-joint skeleton was
bound for 203 s and its result then refused by the add-on), and the binding's distance fields held to a bound
by its grid (1,000 joints on a 12-triangle box bound past 300 s). Small synthetic files, the readers and the
binder called directly; no model job."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from img23d_protocol import MAX_BONES, ErrorCode, ProtocolError, RigBone, RigRequest
from rig_box_inputs import BOX_TRIANGLES, _document, _glb, _gltf, _refused, run_rig, within

from img23d_backend.gltf import bounds
from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.rigging import geometric
from img23d_backend.rigging.gltf_joints import read_skeleton
from img23d_backend.rigging.limits import MAX_DISTANCE_PAIRS, MIN_BINDING_CELLS, binding_cells
from img23d_backend.rigging.rigger import RigMesh, RigOptions
from img23d_backend.rigging.skeleton import BadSkeleton, Skeleton



# --- the glTF's JSON counted before anything is built of it ------------------------------------------------

def _hostile(kind: str) -> dict:
    """The post's document (one mesh node) with what makes it hostile added."""
    document, _ = _document()
    if kind == "many nodes":   # 50,000 nodes, 1 MB: pygltflib built them for a minute and more
        document["nodes"] += [{"name": f"n{n}"} for n in range(50_000)]
    elif kind == "a long chain":   # 100,000 nodes each the child of the one before, 2.2 MB: 72 s to be refused
        document["nodes"] += [{"children": [n + 2]} if n + 1 < 100_000 else {} for n in range(100_000)]
        document["scenes"][0]["nodes"].append(1)
    elif kind == "many accessors":
        document["accessors"] += [dict(document["accessors"][1]) for _ in range(20_000)]
    elif kind == "a long list":   # the scene naming its node 300,000 times: 25 us an index in pygltflib
        document["scenes"][0]["nodes"] *= 300_000
    return document


@pytest.mark.parametrize("kind, said", [
    ("many nodes", f"50,001 nodes, more than the {bounds.MAX_NODES:,}"),
    ("a long chain", f"100,001 nodes, more than the {bounds.MAX_NODES:,}"),
    ("many accessors", f"more than {bounds.MAX_OBJECTS:,} glTF objects"),
    ("a long list", f"more than {bounds.MAX_LIST_ITEMS:,} values"),
])
def test_a_hostile_gltf_is_refused_from_its_json_in_one_sentence_at_once(tmp_path: Path, kind: str,
                                                                          said: str) -> None:
    path = _gltf(tmp_path / "hostile.gltf", {**_hostile(kind), "buffers": []})
    started = time.perf_counter()
    with within(30), pytest.raises(gltf_scene.GltfUnreadable) as caught:
        gltf_scene.read(path)
    seconds = time.perf_counter() - started
    assert said in str(caught.value) and "\n" not in str(caught.value), str(caught.value)
    assert seconds < 2.0, f"refused after {seconds:.1f} s"


def test_a_chain_deeper_than_the_bound_is_refused_by_a_loop_without_recursion(tmp_path: Path) -> None:
    # Within the node bound, deeper than MAX_NODE_DEPTH: walked up with a loop, from the JSON.
    nodes = [{"children": [n + 1]} if n + 1 < bounds.MAX_NODES else {} for n in range(bounds.MAX_NODES)]
    path = _gltf(tmp_path / "chain.gltf", {"asset": {"version": "2.0"}, "nodes": nodes,
                                           "skins": [{"joints": [0]}]})
    started = time.perf_counter()
    with within(30), pytest.raises(BadSkeleton, match=f"{bounds.MAX_NODE_DEPTH + 1} nodes deep, deeper than the {bounds.MAX_NODE_DEPTH}"):
        read_skeleton(path)
    assert time.perf_counter() - started < 2.0


def test_the_rig_refuses_a_long_chain_in_one_sentence_its_run_failed(tmp_path: Path) -> None:
    document = _hostile("a long chain")
    with within(30):
        message = _refused(_glb(tmp_path / "chain.glb", document, _document()[1]), tmp_path / "runs")
    assert message == f"chain.glb has 100,001 nodes, more than the {bounds.MAX_NODES:,} img23d reads"


# --- one bone limit, the protocol's, before any binding ---------------------------------------------------

def test_a_skeleton_file_of_more_joints_than_the_protocol_carries_is_refused_before_binding(tmp_path: Path) -> None:
    # 520 joints were bound for 203 s (the backend allowed 1,000) and the add-on then refused the result.
    count = MAX_BONES + 1
    nodes = [{"name": f"j{n}", "translation": [0.05, 0.1 + n * 0.0015, -0.05]} for n in range(count)]
    skeleton = _gltf(tmp_path / "many.gltf", {"asset": {"version": "2.0"}, "nodes": nodes,
                                               "skins": [{"joints": list(range(count))}]})
    with within(30):
        message = _refused(_glb(tmp_path / "box.glb", *_document()), tmp_path / "runs", skeleton)
    assert message == f"many.gltf's skin 0 has {count} joints, more than the {MAX_BONES} bones img23d binds"


def test_bones_sent_past_the_protocols_limit_are_refused_before_binding(tmp_path: Path) -> None:
    bones = [RigBone(name=f"b{n}", head=(0.05, -0.05, 0.1 + n * 1e-3), tail=(0.05, -0.04, 0.1 + n * 1e-3))
             for n in range(MAX_BONES + 1)]
    mesh = _glb(tmp_path / "box.glb", *_document())
    with within(30), pytest.raises(ProtocolError) as caught:
        run_rig(RigRequest(mesh=str(mesh), name="box", weights="geometric", skeleton=bones), tmp_path / "runs")
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert caught.value.message == f"the skeleton sent has {MAX_BONES + 1} joints, more than the {MAX_BONES} " \
                                   "bones img23d binds"


# --- the binding's work bounded: MAX_BONES joints on a 12-triangle box in seconds ---------------------------

def test_the_most_bones_bind_on_a_twelve_triangle_box_in_seconds() -> None:
    """A filled cube at 80 cells is 512,000 node voxels, and each bone's distance field visits them all: 32 bones
    took 21 s, 1,000 ran past 300 s. The grid is made coarser until voxels times bones fit the bound."""
    cube = np.array([[x, y, z] for x in (0.0, 1.0) for y in (0.0, 1.0) for z in (0.0, 1.0)])
    grid = (np.arange(8) + 0.5) / 8
    heads = np.array([[x, y, z] for x in grid for y in grid for z in grid]) - [0, 0, 0.02]
    assert len(heads) == MAX_BONES
    skeleton = Skeleton(tuple(f"b{n}" for n in range(MAX_BONES)), heads, heads + [0, 0, 0.04],
                        (-1,) * MAX_BONES)
    started = time.perf_counter()
    with within(120):
        rig = geometric.rig(RigMesh(cube, BOX_TRIANGLES.astype(np.int64)), skeleton, RigOptions())
    seconds = time.perf_counter() - started
    assert seconds < 30, f"bound in {seconds:.0f} s"
    assert rig.skin.vertex_count == 8 and np.allclose(rig.skin.weights.sum(axis=1), 1.0, atol=1e-6)
    # Each corner follows the bone nearest it (the grid's corner cell's).
    nearest = np.linalg.norm(cube[:, None] - (heads + [0, 0, 0.02])[None], axis=2).argmin(axis=1)
    assert (rig.skin.strongest == nearest).all()
    assert any("coarser grid" in note for note in rig.notes), rig.notes   # said, as accuracy is traded


def test_the_grid_is_coarsened_only_past_the_bound() -> None:
    assert binding_cells(6_600, 100, 80) == 80   # a fused biped's voxels and a hundred bones: as before
    assert binding_cells(MAX_DISTANCE_PAIRS // MAX_BONES, MAX_BONES, 80) == 80
    fewer = binding_cells(512_000, MAX_BONES, 80)   # a filled cube
    assert fewer < 80 and (fewer / 80) ** 3 * 512_000 * MAX_BONES <= MAX_DISTANCE_PAIRS
    assert binding_cells(10**9, MAX_BONES, 80) == MIN_BINDING_CELLS


def test_the_document_walk_stops_at_the_bound() -> None:
    # A list of 3 million indices is refused from its length, before a single index is looked at.
    document = {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0] * 3_000_000}]}
    started = time.perf_counter()
    with pytest.raises(gltf_scene.GltfUnreadable, match="values"):
        bounds.check_document(document, "big.gltf", 5_000_000)
    assert time.perf_counter() - started < 0.5
