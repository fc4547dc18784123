"""The run record as protocol types (``run_manifest``, ``run_record``): a manifest main wrote reads and
writes back byte for byte, one from the first release still opens, one from a newer img23d says so in
one sentence, and a damaged one is one sentence, never a ``KeyError``.

``manifests/main-f49deb6-generate.json``: written by the command line at commit f49deb6 (before these
types), ``generate examples/house_scene.png --targets "house, chimney" --models tiny --topology
triangles --faces 200``; its picture's path made neutral, and the two keys protocol 1.20 added since
inserted where the writer puts them (the options' ``splats``, each model's ``device`` and ``tf32`` and
the grounding model's ``attention``, each record's ``splats`` and its finish's ``materials``; protocol 1.22's
record ``shape_model``). ``manifests/first-release-bc1fe14.json``:
the shape of the first release's manifest (commit bc1fe14: ``runs.py``'s Manifest and TargetRecord,
``engine.py``'s image entry): no pid, warnings, scene or skipped sentences, and 11 fields per object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from img23d_protocol import (MANIFEST_FORMAT, ErrorCode, FinishRecord, Manifest, ProtocolError, TargetRecord,
                             TargetResult, manifest_text, read_manifest, unknown_keys)

MANIFESTS = Path(__file__).parent / "manifests"
MAIN = MANIFESTS / "main-f49deb6-generate.json"
FIRST = MANIFESTS / "first-release-bc1fe14.json"


def _data(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _written(tmp_path: Path, data: Any, name: str = "manifest.json") -> Path:
    run = tmp_path / "20261126-000000-house_scene"
    run.mkdir(exist_ok=True)
    (run / name).write_text(json.dumps(data), encoding="utf-8")
    return run


def test_a_manifest_main_wrote_reads_and_writes_back_byte_for_byte() -> None:
    text = MAIN.read_text(encoding="utf-8")
    manifest = read_manifest(MAIN)
    assert manifest_text(manifest) == text
    assert manifest.original_size == (1024, 1024) and manifest.layout_used["fov_degrees"] == 55.0
    [house, chimney] = manifest.records
    assert isinstance(house.finish, FinishRecord) and house.finish.high_mesh == "high/house.glb"
    assert (house.anchor, chimney.stem, len(manifest.done)) == ("house", "chimney", 2)


def test_one_definition_of_the_target_record() -> None:
    assert TargetResult is TargetRecord  # the result's objects are the manifest's records


def test_a_first_release_manifest_opens_with_todays_defaults() -> None:
    manifest = read_manifest(FIRST)
    assert (manifest.kind, manifest.format, manifest.pid, manifest.warnings, manifest.scene) == (
        "generate", 1, None, [], {})
    assert manifest.original_size == (1024, 1024) and manifest.fov_estimate is None and manifest.layout_used == {}
    assert manifest.model_ids == {"grounding": "tiny/qwen3-vl", "matting": "tiny/birefnet", "shape": "tiny/hunyuan3d"}
    [house, chimney] = manifest.records
    assert (house.depth, house.placement, house.finish, house.completion, house.variation) == (None, None, None,
                                                                                             None, 0)
    assert [r.stem for r in manifest.done] == ["house", "chimney"] and not manifest.with_variations


def test_a_newer_img23d_manifest_says_so_in_one_sentence(tmp_path: Path) -> None:
    run = _written(tmp_path, {**_data(MAIN), "format": MANIFEST_FORMAT + 1, "backend_version": "9.0.0"})
    with pytest.raises(ProtocolError) as caught:
        read_manifest(run)
    assert caught.value.code is ErrorCode.VERSION_MISMATCH
    assert caught.value.message == (f"{run}: this run was written by img23d 9.0.0 in run format 2, which this img23d "
                                    "(run format 1) cannot read: update the add-on and the backend to open it")


def test_keys_a_newer_img23d_of_the_same_format_added_are_ignored() -> None:
    data = _data(MAIN)
    data["hologram"] = {"x": 1}
    data["records"][0]["hologram"] = True
    data["records"][0]["finish"]["hologram"] = 3
    manifest = Manifest.from_dict(data)
    assert manifest_text(manifest) == MAIN.read_text(encoding="utf-8")
    assert unknown_keys(data) == ["hologram"]


@pytest.mark.parametrize("change, sentence", [
    ({"records": {"house": 1}}, "its manifest.json is damaged: the run manifest has no list of records"),
    ({"status": 3}, "the run manifest's 'status' is not a string"),
    ({"format": "one"}, "the run manifest's 'format' is not a whole number"),
    ({"image": [1024, 1024]}, "the run manifest's 'image' is not an object"),
    ({"targets": ["house", 2]}, "the run manifest's 'targets' is not a list of names"),
    ({"records": ["house"]}, "a target record is not an object"),
    ({"records": [{"stem": "house"}]}, "a target record's 'target' is missing"),
    ({"records": [{"target": "house", "box": "wide"}]}, "a target record's 'box' is not a list of four numbers"),
    # A box past any picture's pixels overflowed the layout's floor fit (an OverflowError, a traceback).
    ({"records": [{"target": "house", "box": [0, 0, 1e300, 1e300]}]},
     "a target record's 'box' is not a list of four numbers within 1,048,576 pixels"),
    ({"records": [{"target": "house", "box": [0, 0, float("nan"), 5]}]}, "a target record's 'box' is not a list"),
    # A reversed or empty box laid its object out a billionth of a metre across and moved the others.
    ({"records": [{"target": "house", "box": [793.6, 906.2, 737.3, 860.2]}]}, "a target record's 'box' has no size"),
    ({"records": [{"target": "house", "box": [614.4, 593.9, 614.4, 700.0]}]}, "a target record's 'box' has no size"),
    ({"records": [{"target": "house", "instance": "1"}]}, "a target record's 'instance' is not a whole number"),
    ({"records": [{"target": "house", "finish": {"faces_out": "many"}}]},
     "a target record's finish's 'faces_out' is not a whole number"),
    ({"records": [{"target": "house", "completion": {"completed": "yes"}}]},
     "a target's completion result's 'completed' is not true or false"),
])
def test_a_damaged_manifest_is_one_sentence_naming_the_run(tmp_path: Path, change: dict[str, Any],
                                                          sentence: str) -> None:
    run = _written(tmp_path, {**_data(MAIN), **change})
    with pytest.raises(ProtocolError) as caught:
        read_manifest(run / "manifest.json")
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert caught.value.message.startswith(f"{run} is not a run folder img23d can read: its manifest.json ")
    assert sentence in caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize("text, sentence", [
    (None, "its manifest.json is missing or cannot be read"),
    ("{not json", "its manifest.json is not JSON"),
    ("[1, 2]", "its manifest.json holds no JSON object"),
    # Both were an OverflowError or a name no line could carry (a host's run listing ended the backend).
    ('{"records": [{"box": [0, 0, 10, 1' + "0" * 400 + ']}]}', "its manifest.json holds a whole number of 401 digits"),
    ('{"records": [{"target": "\\udc80"}]}', "its manifest.json holds text that is not valid \\(a lone U\\+DC80"),
    # A RecursionError traceback in Import Run, Re-layout and Keep.
    ("[" * 200_000, "its manifest.json nests too deep to be a manifest"),
])
def test_an_unreadable_manifest_is_one_sentence(tmp_path: Path, text: str | None, sentence: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    if text is not None:
        (run / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(ProtocolError, match=sentence):
        read_manifest(run)


def test_a_file_picked_by_another_name_is_not_a_manifest(tmp_path: Path) -> None:
    picture = tmp_path / "input.png"
    picture.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ProtocolError) as caught:
        read_manifest(picture)
    assert caught.value.message == f"{picture} is not an img23d run manifest: it is not JSON"


def test_a_quads_flag_from_a_writer_that_kept_only_yes_or_no_reads_as_a_count() -> None:
    assert FinishRecord.from_dict({"quads": True}).quads == 1 and FinishRecord.from_dict({}).quads == 0
