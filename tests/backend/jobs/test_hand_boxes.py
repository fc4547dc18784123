"""Boxes by hand: a name's box from the artist stands for grounding (and no grounding model loads
when every name has one); bad boxes are one sentence before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_inprocess import RunCli
from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_backend.grounding import driver as grounding
from img23d_protocol import (REQUEST_TYPES, DetectRequest, ErrorCode, GenerateJobResult, GenerateRequest, JobOptions,
                             ProtocolError, decode)

CHIMNEY = [600.0, 80.0, 760.0, 600.0]   # pixels of the 1024 x 1024 house picture


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def _generate(engine: Engine, targets: list[str], boxes: dict) -> GenerateJobResult:
    request = GenerateRequest(id="b", image=str(HOUSE), targets=targets, boxes=boxes,
                              options=JobOptions(**FAST_OPTIONS))
    return engine.run(request, Job(id="b", emit=lambda event: None))


def test_every_name_with_a_box_loads_no_grounding_model(engine: Engine, monkeypatch) -> None:
    used: list[str] = []
    real_use = engine.manager.use
    monkeypatch.setattr(engine.manager, "use", lambda role, *a, **k: used.append(role) or real_use(role, *a, **k))
    data = _generate(engine, ["chimney", "door"], {"chimney": CHIMNEY, "Door": [365, 600, 460, 840]})
    assert "grounding" not in used and engine.manager.counters()["grounding"].loads_from_disk == 0
    records = {r.target: r for r in data.targets}
    assert records["chimney"].box == CHIMNEY and records["chimney"].artist_box is True
    assert records["door"].box == [365.0, 600.0, 460.0, 840.0]
    assert all(r.status == "done" for r in records.values())
    assert not (Path(data.run_dir) / "detections.json").exists()  # nothing was detected
    manifest = json.loads(Path(data.manifest).read_text())
    assert [r["artist_box"] for r in manifest["records"]] == [True, True]


def test_names_without_a_box_are_still_looked_for(engine: Engine, monkeypatch) -> None:
    asked: list[list[str]] = []
    real_ask = grounding.ask
    monkeypatch.setattr(grounding, "ask", lambda model, image, targets, **k: asked.append(list(targets)) or
                        real_ask(model, image, targets, **k))
    data = _generate(engine, ["house", "chimney"], {"chimney": CHIMNEY})
    assert asked == [["house"]]
    records = {r.target: r for r in data.targets}
    assert records["chimney"].artist_box is True and records["house"].artist_box is False
    assert records["house"].status == "done"


@pytest.mark.parametrize("targets, boxes, message", [
    (["chimney"], {"chimney": [900, 80, 1100, 600]}, "the box of 'chimney' (900, 80, 1100, 600) reaches past the "
                                                     "picture, which is 1024 x 1024 pixels"),
    (["chimney"], {"barrel": CHIMNEY}, "there is a box for 'barrel', which is not one of the names (chimney)"),
    # An engine's request (the Python API's) is not read from the wire: its boxes' form is checked by the job too.
    (["chimney"], {"chimney": [float("nan"), 80, 760, 600]}, "the box of 'chimney' must be four numbers"),
    (["chimney"], {"chimney": [760, 600, 600, 80]}, "the box of 'chimney' has no size"),
])
def test_a_bad_box_is_one_sentence(engine: Engine, targets, boxes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        _generate(engine, targets, boxes)
    assert caught.value.code is ErrorCode.BAD_REQUEST


def test_each_variation_of_a_drawn_box_says_its_box_is_the_artists(engine: Engine) -> None:
    request = GenerateRequest(id="v", image=str(HOUSE), targets=["chimney"], boxes={"chimney": CHIMNEY},
                              options=JobOptions(**{**FAST_OPTIONS, "variations": 2}))
    data = engine.run(request, Job(id="v", emit=lambda event: None))
    manifest = json.loads(Path(data.manifest).read_text())
    assert [(r["stem"], r["artist_box"]) for r in manifest["records"]] == [("chimney", True), ("chimney-v2", True)]


@pytest.mark.parametrize("targets, boxes", [(["house!", "house"], {}), (["Wooden-Barrel", "wooden barrel"], {}),
                                            (["chimney", "house", "chimney."], {"house": [0, 0, 9, 9]})])
def test_two_names_the_grounding_takes_for_one_are_refused(engine: Engine, targets: list[str], boxes: dict) -> None:
    """Every box went to the first of them and the second was said not found (exit 3), though it was found."""
    for request in (GenerateRequest(id="n", image=str(HOUSE), targets=targets, boxes=boxes),
                    DetectRequest(id="n", image=str(HOUSE), targets=targets)):
        with pytest.raises(ProtocolError, match="are one name to the grounding") as caught:
            engine.run(request, Job(id="n", emit=lambda event: None))
        assert caught.value.code is ErrorCode.BAD_REQUEST


def test_a_name_with_a_box_is_not_looked_for_so_it_may_look_like_another(engine: Engine) -> None:
    data = _generate(engine, ["chimney", "chimney!"], {"chimney!": CHIMNEY})
    assert [r.status for r in data.targets] == ["done", "done"]


def test_plurals_the_matching_tells_apart_are_two_names() -> None:
    """"glass" and "glasses" (a drinking glass, spectacles): an exact match ranks first, each gets its own."""
    assert grounding.one_name_twice(["glass", "glasses", "barrel", "barrels"]) is None


@pytest.mark.parametrize("box, message", [
    ([600, 80, 600, 600], "has no size"), ([1, 2, 3], "must be four numbers"), (["a", 1, 2, 3], "four numbers"),
    ([1, 2, float("inf"), 4], "four numbers")])
def test_a_box_of_no_size_or_not_four_numbers_is_refused_on_arrival(box, message: str) -> None:
    line = json.dumps({"v": 1, "type": "generate", "id": "g", "image": "/x.png", "targets": ["chimney"],
                       "boxes": {"chimney": box}})
    with pytest.raises(ProtocolError, match=message):
        decode(line, REQUEST_TYPES)


@pytest.mark.parametrize("field, value", [("boxes", {"chimney": CHIMNEY, "Chimney": [100, 100, 300, 300]}),
                                          ("views", {"chimney": {"back": "/b.png"}, "CHIMNEY": {"left": "/l.png"}})])
def test_one_name_given_twice_in_boxes_or_views_is_refused_on_arrival(field: str, value: dict) -> None:
    """The job looks a name's box and views up ignoring case: of two keys for one name, one was silently dropped."""
    line = json.dumps({"v": 1, "type": "generate", "id": "g", "image": "/x.png", "targets": ["chimney"],
                       field: value})
    with pytest.raises(ProtocolError, match="are one name given twice") as caught:
        decode(line, REQUEST_TYPES)
    assert caught.value.code is ErrorCode.BAD_REQUEST


# The command line in this process (the ``cli`` fixture, cli_inprocess): these tests' subject is what it takes and
# says; a process of its own paid about 7 CPU-seconds of imports before the job began (a process's own exit codes
# and signals are tests/backend/commands/test_cli.py's).


def test_the_command_line_takes_boxes(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", HOUSE, "--targets", "chimney, door", "--models", "tiny", "--device", "cpu",
              "--out", tmp_path / "runs", "--steps", "3", "--octree-resolution", "32", "--no-texture",
              "--box", "chimney=600,80,760,600", "--box", "door=365, 600, 460, 840")
    assert out.returncode == 0, out.stderr
    [run] = list((tmp_path / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert [(r["target"], r["box"], r["artist_box"]) for r in manifest["records"]] == [
        ("chimney", CHIMNEY, True), ("door", [365.0, 600.0, 460.0, 840.0], True)]
    assert manifest["model_counters"]["grounding"]["loads_from_disk"] == 0


@pytest.mark.parametrize("flags, message", [
    (["--box", "chimney=1,2,3"], "--box: must be NAME=x0,y0,x1,y1"),
    (["--box", "chimney=600,80,600,600"], "the box of 'chimney' has no size"),
    (["--box", "tree=1,2,3,4"], "there is a box for 'tree', which is not one of the names (chimney)"),
    (["--box", "chimney=1,2,3,4", "--box", "Chimney=5,6,7,8"], "--box gives 'Chimney' two boxes"),
])
def test_a_bad_box_on_the_command_line_exits_2_saying_why(cli: RunCli, tmp_path: Path, flags: list[str],
                                                         message: str) -> None:
    out = cli("generate", HOUSE, "--targets", "chimney", "--models", "tiny", "--out", tmp_path / "runs", *flags)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "runs").exists()


def test_a_box_outside_the_picture_on_the_command_line_says_so(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", HOUSE, "--targets", "chimney", "--models", "tiny", "--device", "cpu",
              "--out", tmp_path / "runs", "--box", "chimney=10,10,2000,200")
    assert out.returncode == 2  # a wrong input, found once the picture is read: 2, as in every command
    assert "reaches past the picture, which is 1024 x 1024 pixels [bad_request]" in out.stderr
