"""The protocol's ``rig`` job under the engine (issue 65 items 4 and 7, the add-on's way in): a mesh file rigged
from its shape, or weighted to the artist's bones sent in the request (names kept), the weights written in the
mesh's vertex order; a far skeleton, a skeleton that is no tree and a missing file each one sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from img23d_protocol import (REQUEST_TYPES, ErrorCode, JobOptions, MeshFile, ProtocolError, RigBone, RigJobResult,
                             RigRequest, decode, write_mesh_file)

from img23d_backend.jobs import Job
from img23d_backend.session import Models, Session
from rig_meshes import biped


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> Session:
    import os

    os.environ.setdefault("IMG23D_TINY_MODELS", str(tiny_root))
    return Session(tmp_path_factory.mktemp("runs"), Models(models="tiny", device="cpu"))


@pytest.fixture(scope="module")
def mesh_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    figure = biped()
    path = tmp_path_factory.mktemp("mesh") / "hero.npz"
    loops = np.arange(len(figure.triangles) * 3, dtype=np.int32).reshape(-1, 3)
    write_mesh_file(path, MeshFile(positions=figure.positions.astype(np.float32),
                                   triangles=figure.triangles.astype(np.int32), triangle_loops=loops))
    return path


def _rig(session: Session, request: RigRequest) -> RigJobResult:
    result = session.engine.run(request, Job(id=request.id or "r", emit=lambda message: None))
    assert isinstance(result, RigJobResult)
    return result


def _bones(scale: float = 1.0, shift: float = 0.0) -> list[RigBone]:
    skeleton = biped().skeleton
    return [RigBone(name=f"my {skeleton.names[j]}", head=tuple(skeleton.heads[j] * scale + shift),
                    tail=tuple(skeleton.tails[j] * scale + shift), parent=skeleton.parents[j])
            for j in range(skeleton.count)]


def test_a_mesh_rigged_from_its_shape_gives_bones_and_weights_in_its_vertex_order(session, mesh_file) -> None:
    result = _rig(session, RigRequest(id="r1", mesh=str(mesh_file), name="hero"))
    assert result.source == "shape" and result.humanoid and "Hips" in {bone.name for bone in result.bones}
    with np.load(Path(result.run_dir) / result.weights) as data:
        joints, weights = data["joints"], data["weights"]
    assert joints.shape == weights.shape == (len(biped().positions), 4)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5) and joints.max() < len(result.bones)


def test_the_artists_bones_keep_their_names_and_each_limb_gets_its_vertices(session, mesh_file) -> None:
    figure = biped()
    line = RigRequest(id="r2", mesh=str(mesh_file), name="hero", skeleton=_bones()).to_line()
    result = _rig(session, decode(line, REQUEST_TYPES))   # as it arrives from the add-on
    assert result.source == "given" and [bone.name for bone in result.bones] == [b.name for b in _bones()]
    with np.load(Path(result.run_dir) / result.weights) as data:
        strongest = data["joints"][:, 0]
    named = [result.bones[j].name for j in strongest]
    truth = [f"my {figure.skeleton.names[j]}" for j in figure.truth]
    assert np.mean([a == b for a, b in zip(named, truth)]) > 0.8   # as the binding itself (test_rigging): joints share


@pytest.mark.parametrize("bones, words", [
    (_bones(shift=50.0), "the skeleton lies outside the mesh"),
    ([RigBone("a", (0, 0, 0), (0, 0, 1), 1), RigBone("b", (0, 0, 1), (0, 0, 2), 0)], "cycle"),
    # A bone whose tail is its head crashed the binding ("x must be finite", internal).
    ([*_bones()[:-1], RigBone("tip", _bones()[-1].head, _bones()[-1].head, _bones()[-1].parent)],
     "bone 'tip' has no length"),
])
def test_a_skeleton_that_cannot_be_bound_is_one_sentence(session, mesh_file, bones, words) -> None:
    with pytest.raises(ProtocolError, match=words) as raised:
        _rig(session, RigRequest(id="r3", mesh=str(mesh_file), name="hero", skeleton=bones))
    assert raised.value.code is ErrorCode.BAD_REQUEST


def test_a_rig_requests_fields_are_checked_on_arrival(tmp_path: Path, session) -> None:
    import json

    for skeleton, words in (([{"name": "a", "head": [0, 0], "tail": [0, 0, 1]}], "head must be three finite"),
                            ([{"name": "a", "head": [0, 0, 0], "tail": [0, 0, 1], "parent": 3}], "parent must be"),
                            ("bones", "must be a list of bones")):
        with pytest.raises(ProtocolError, match=words):
            decode(json.dumps({"v": 1, "type": "rig", "id": "x", "mesh": "/m.npz", "skeleton": skeleton}), REQUEST_TYPES)
    with pytest.raises(ProtocolError, match="no mesh file at"):
        _rig(session, RigRequest(id="r4", mesh=str(tmp_path / "gone.npz")))


def test_skintokens_runs_through_the_model_manager_registered_on_first_use(session, mesh_file) -> None:
    result = _rig(session, RigRequest(id="r5", mesh=str(mesh_file), name="hero", weights="model"))
    assert result.source == "SkinTokens" and "rigging" in session.engine.manager.roles
    assert session.engine.manager.spec("rigging").repo_id == "tiny/skintokens"
    with np.load(Path(result.run_dir) / result.weights) as data:
        assert data["joints"].max() < len(result.bones) and len(data["weights"]) == len(biped().positions)
    # The artist's bones are bound geometrically whatever the choice, said in the notes.
    given = _rig(session, RigRequest(id="r6", mesh=str(mesh_file), name="hero", weights="model", skeleton=_bones()))
    assert given.source == "given" and any("SkinTokens makes its own skeleton" in note for note in given.notes)


def test_skintokens_says_its_expected_time_before_it_starts(session, mesh_file) -> None:
    said: list[str] = []
    request = RigRequest(id="r7", mesh=str(mesh_file), name="hero", weights="model")
    session.engine.run(request, Job(id="r7", emit=lambda message: said.append(getattr(message, "message", ""))))
    expected = [text for text in said
                if text.startswith("SkinTokens is reading the mesh: about ") and "about about" not in text]
    assert expected and "on this CPU" in expected[0] and "for a skeleton of about 50 joints" in expected[0]


def test_a_rig_that_would_take_hours_here_is_refused_unless_accepted(session, mesh_file,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``throughput:slow``: a device a million times slower, through the same probe (test_step_costs)."""
    _rig(session, RigRequest(id="r8", mesh=str(mesh_file), name="hero", weights="model"))  # registers it
    monkeypatch.setenv("IMG23D_FAILPOINTS", "throughput:slow")
    with pytest.raises(ProtocolError, match="rigging with SkinTokens .* would take .*geometric binding") as raised:
        _rig(session, RigRequest(id="r9", mesh=str(mesh_file), name="hero", weights="model"))
    assert raised.value.code is ErrorCode.LONG_JOB_NOT_ACCEPTED
    # The geometric binding loads no model: nothing to refuse.
    assert _rig(session, RigRequest(id="r10", mesh=str(mesh_file), name="hero", weights="geometric")).source == "shape"
    accepted = RigRequest(id="r11", mesh=str(mesh_file), name="hero", weights="model",
                          options=JobOptions(accept_long=True))
    assert _rig(session, accepted).source == "SkinTokens"


def test_a_second_model_rigger_is_its_folder_and_one_table_line(session, mesh_file, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """``rig_second``'s rigger, added to the rigging table alone: the job registers its model with the engine's
    manager on first use, says its expected time, runs it there and writes its rig (the driver and the job
    name no rigger)."""
    from img23d_backend.env.lazy_table import LazyTable
    from img23d_backend.rigging import driver
    from img23d_backend.rigging.rigger import Rigger
    from img23d_backend.rigging.table import RIGGER_MODULES

    import rig_second

    monkeypatch.setattr(rig_second, "HOME", tmp_path)
    rig_second.write_folder(tmp_path / "upright")
    monkeypatch.setattr(driver, "RIGGERS", LazyTable({**RIGGER_MODULES, "upright": "rig_second"}, "RIGGER", Rigger,
                                                     "rigger"))
    said: list[str] = []
    request = RigRequest(id="r12", mesh=str(mesh_file), name="hero", weights="upright")
    result = session.engine.run(request, Job(id="r12", emit=lambda message: said.append(getattr(message, "message",
                                                                                                 ""))))
    assert isinstance(result, RigJobResult) and result.source == "Upright", result.notes
    assert session.engine.manager.spec("second-rigging").repo_id == "tiny/upright"
    assert any(text.startswith("Upright is reading the mesh: about 2 s") for text in said), said
    [bone] = result.bones
    figure = biped().positions
    assert bone.name == "spine" and np.isclose(bone.head[2], figure[:, 2].min()) and \
        np.isclose(bone.tail[2], figure[:, 2].max())
    with np.load(Path(result.run_dir) / result.weights) as data:
        assert (data["joints"][:, 0] == 0).all() and np.allclose(data["weights"][:, 0], 1.0)
