"""Each job's result as a typed protocol class: its wire keys are the ones older releases sent
(an older add-on reads a newer backend), and a bad answer from the backend is one sentence."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pytest

from img23d_protocol import (JOB_RESULTS, REQUEST_TYPES, Artifact, ArtifactKind, DetectJobResult, DownloadJobResult,
                             ErrorCode, GenerateJobResult, PartsJobResult, PrintJobResult, ProtocolError, RegenerateJobResult, Result, RigJobResult,
                             RetextureJobResult, RetopoJobResult, SuggestJobResult, TargetResult, decode)
from img23d_protocol.codec import EVENT_TYPES
from img23d_protocol.result_fields import MAX_ITEMS, MAX_TEXT

# A finish entry as the backend writes it (jobs/steps/finishing.py; the run record's FinishRecord), every key.
FINISH = {"topology": "quads", "target": 5000, "method": "instant-meshes", "faces_in": 20000, "faces_out": 4990,
          "quads": 4990, "fallback": "quads fell back", "bake_size": 1024, "coloured": True,
          "metallic_roughness": False, "texels_by_nearest": 12, "texels": 600000, "high_mesh": "high/house.glb",
          "materials": ["body", "handle"], "seconds": 2.5}
TARGET = {"target": "house", "instance": 1, "stem": "house", "status": "done", "box": [1.0, 2.0, 30.5, 40.0],
          "score": 0.9, "artist_box": False, "seed": 7, "variation": 0, "candidate_of": None,
          "crop": "crops/house.png", "matte": "mattes/house.png", "mesh": "house.glb", "faces": 1200,
          "vertices": 602, "cleanup": {"removed": 3}, "textured": True, "error": None, "timings": {"shape": 0.5},
          "depth": None, "placement": {"x": 0.0}, "finish": FINISH,
          "completion": {"completed": True, "reason": "overlaps 'tree'", "cutout": "completed/house.png",
                         "skipped": None},
          "views": {"back": "views_in/house/back.png"},
          "views_left_out": {"left": "the left view of 'house' was left out: matting found no object in it"},
          "projection": {"front": {"side": "front", "used": True, "residual": 0.02, "perspective": False,
                                   "coverage": 0.4, "left_out": None}},
          "splats": "house.splat.ply",
          "parts": {"files": {"door": "house_parts/house_door.glb"}, "combined": "house_parts/house_combined.glb",
                    "model": "autopartgen", "licence": "FAIR Noncommercial Research License v1",
                    "mask": "house_parts/part_mask.png", "textured": True},
          "shape_model": "tencent/Hunyuan3D-2mini@0123456789"}
ANSWER = {"stop_reason": "eos", "cut_off": False, "answer_tokens": 40, "token_budget": 512, "duplicates_dropped": 0}

# Today's shape of each job's result data, key for key, as the backend sent it before these classes.
TODAY: dict[type, dict[str, Any]] = {
    GenerateJobResult: {"run_dir": "/runs/r", "manifest": "/runs/r/manifest.json", "layout_picture": None,
                        "image_size": [640, 480], "targets": [TARGET], "texture_skipped": None,
                        "depth_skipped": "depth was skipped", "materials_skipped": "materials were skipped",
                        "views_shape_skipped": None, "timings": {"load": 0.1}, **ANSWER, "seed": 7},
    DetectJobResult: {"run_dir": "/runs/d", "image_size": [640, 480], "boxes": {"house": [[1.0, 2.0, 3.0, 4.0]]},
                      "not_found": ["cat"], **ANSWER, "seed": 0,
                      "completion": {"house": [{"completed": True, "reason": "covered by 'tree'",
                                                "cutout": "completed/house.png", "skipped": None}]},
                      "completion_picture": "/runs/d/completion.png"},
    SuggestJobResult: {"run_dir": "/runs/s", "image_size": [640, 480], "names": ["house"],
                       "boxes": {"house": [[1, 2, 3, 4], [5, 6, 7, 8]]}, "all_instances": True, "seed": 0},
    RetextureJobResult: {"run_dir": "/runs/t", "texture": "/runs/t/texture.png", "uvs": None, "uv_created": False,
                         "proxy": True, "faces": 5000, "texture_size": [1024, 1024], "seed": 3,
                         "metallic_roughness": "/runs/t/metallic_roughness.png", "materials_skipped": None},
    RetopoJobResult: {"run_dir": "/runs/q", "manifest": "/runs/q/manifest.json", "mesh": "/runs/q/m.glb",
                      "high_mesh": "/runs/q/high/m.glb", "finish": {**FINISH, "fallback": None},
                      "targets": [TARGET], "timings": {"finish": 1.5}, "seed": 0},
    PartsJobResult: {"run_dir": "/runs/p", "manifest": "/runs/p/manifest.json", "combined": "lamp_combined.glb",
                     "parts": [{"name": "shade", "mesh": "lamp_shade.glb", "faces": 900, "cap_faces": 40,
                                "closed": True, "empty_reason": None},
                               {"name": "cord", "mesh": None, "faces": 0, "cap_faces": 0, "closed": False,
                                "empty_reason": "'cord' was found on no render, so its part is empty"}],
                     "faces": 2000, "note": "nothing the mesh hid is invented", "timings": {"split": 0.2},
                     "seed": 4, "model": "autopartgen", "licence": "FAIR Noncommercial Research License v1",
                     "mask": "part_mask.png"},
    RigJobResult: {"run_dir": "/runs/g", "manifest": "/runs/g/manifest.json", "rigged": "hero_rigged.glb",
                   "weights": "hero_weights.npz",
                   "bones": [{"name": "Hips", "head": [0.0, 0.0, 0.95], "tail": [0.0, 0.0, 1.15], "parent": -1},
                             {"name": "Spine", "head": [0.0, 0.0, 1.15], "tail": [0.0, 0.0, 1.5], "parent": 0}],
                   "source": "shape", "humanoid": True, "vertices": 2400, "notes": ["a note"],
                   "timings": {"rig": 1.5}, "lods": ["hero_lod1_rigged.glb"]},
    RegenerateJobResult: {"run_dir": "/runs/r/regenerated/x", "source_run": "/runs/r", "manifest": "/runs/x/m.json",
                          "image_size": None, "targets": [TARGET], "texture_skipped": None,
                          "materials_skipped": None, "timings": {}, "seed": 11},
    PrintJobResult: {"run_dir": "/runs/r", "folder": "/runs/r/print", "threemf": "/runs/r/print/plate.3mf",
                     "record": "/runs/r/print/print.json",
                     "objects": [{"name": "house", "printed": True, "refused": None, "size_mm": [60.5, 40.0, 80.0],
                                  "watertight": True, "volume_mm3": 120000.5, "stl": "house.stl"},
                                 {"name": "sign", "printed": False, "refused": "sign is an open sheet",
                                  "size_mm": None, "watertight": False, "volume_mm3": None, "stl": None}],
                     "said": ["sign is an open sheet"], "passed": True},
    DownloadJobResult: {"model": "tiny/shape", "path": "/cache/shape",
                        "models": [{"id": "tiny/shape", "role": "shape", "repo_id": "x/y", "subfolder": None,
                                    "revision": None, "state": "cached", "local": True, "size_bytes": 10,
                                    "size_measured": True, "shared_with": []}],
                        "offline": False, "cache_dir": "/cache"},
}


def _keys_in_order(data: dict[str, Any]) -> list[str]:
    return list(data)


@pytest.mark.parametrize("kind", list(TODAY), ids=lambda k: k.KIND)
def test_each_result_round_trips_with_todays_keys_and_values(kind: type) -> None:
    data = TODAY[kind]
    result = kind.from_dict(json.loads(json.dumps(data)))
    assert result.to_dict() == data
    assert _keys_in_order(result.to_dict()) == _keys_in_order(data)
    assert kind.from_dict(result.to_dict()) == result
    # Through a whole result line, as the add-on reads it.
    line = Result(id="j", ok=True, data=result.to_dict()).to_line()
    assert kind.from_dict(decode(line, EVENT_TYPES).data) == result


def test_every_job_request_has_its_result_class() -> None:
    jobs = {"generate", "detect", "suggest", "retexture", "retopo", "parts", "rig", "regenerate", "download", "picture",
            "print"}
    assert set(JOB_RESULTS) == jobs and jobs <= set(REQUEST_TYPES)
    assert all(JOB_RESULTS[kind].KIND == kind for kind in jobs)


def test_fields_are_read_not_keys() -> None:
    generate = GenerateJobResult.from_dict(TODAY[GenerateJobResult])
    assert generate.targets[0].mesh == "house.glb" and generate.targets[0].fallback == "quads fell back"
    assert generate.answer is not None and generate.answer.answer_tokens == 40
    assert GenerateJobResult.from_dict({k: v for k, v in TODAY[GenerateJobResult].items()
                                        if k not in ANSWER}).answer is None  # no grounding asked: no summary
    assert DownloadJobResult.from_dict(TODAY[DownloadJobResult]).models[0].state == "cached"


def test_a_newer_backends_extra_keys_are_ignored() -> None:
    data = {**TODAY[RetextureJobResult], "future": 1}
    assert RetextureJobResult.from_dict(data).to_dict() == TODAY[RetextureJobResult]
    assert TargetResult.from_dict({**TARGET, "future": {"x": 1}}).to_dict() == TARGET


def test_an_older_backends_retexture_without_maps_reads_as_colour_alone() -> None:
    """A backend before 1.16 sends the colour alone: no metallicRoughness, nothing said skipped."""
    older = {k: v for k, v in TODAY[RetextureJobResult].items() if k not in ("metallic_roughness", "materials_skipped")}
    result = RetextureJobResult.from_dict(older)
    assert result.texture == "/runs/t/texture.png" and result.metallic_roughness is None
    assert result.materials_skipped is None


def test_an_older_backends_target_without_newer_keys_takes_the_defaults() -> None:
    record = TargetResult.from_dict({"target": "house", "status": "done", "mesh": "house.glb"})
    assert (record.instance, record.variation, record.timings, record.finish) == (1, 0, {}, None)


@pytest.mark.parametrize("kind, change, sentence", [
    (GenerateJobResult, {"run_dir": 3}, "a generate result's 'run_dir' is not a string"),
    (GenerateJobResult, {"manifest": "x" * (MAX_TEXT + 1)}, "'manifest' is not a string of at most"),
    (GenerateJobResult, {"targets": "house"}, "a generate result's 'targets' is not a list"),
    (GenerateJobResult, {"targets": [TARGET] * (MAX_ITEMS + 1)}, "'targets' is not a list of at most"),
    (GenerateJobResult, {"targets": ["house"]}, "a target record is not an object"),
    (GenerateJobResult, {"targets": [{**TARGET, "mesh": 5}]}, "a target record's 'mesh' is not a string"),
    (GenerateJobResult, {"targets": [{**TARGET, "finish": "quads"}]}, "a target record's finish is not an object"),
    (GenerateJobResult, {"targets": [{**TARGET, "completion": "yes"}]}, "a target's completion result must be an object"),
    (GenerateJobResult, {"targets": [{**TARGET, "completion": {"completed": 1, "reason": ""}}]},
     "a target's completion result's 'completed' is not true or false"),
    (GenerateJobResult, {"targets": [{**TARGET, "completion": {"completed": True, "reason": "x", "cutout": 3}}]},
     "a target's completion result's 'cutout' is not a string"),
    (GenerateJobResult, {"cut_off": "yes"}, "a generate result's 'cut_off' is not true or false"),
    (GenerateJobResult, {"seed": True}, "a generate result's 'seed' is not a whole number"),
    (GenerateJobResult, {"image_size": ["640", 480]}, "a generate result's 'image_size' is not a list of numbers"),
    (DetectJobResult, {"boxes": {"house": [[1, 2, 3]]}}, "a detect result's 'boxes' is not a list of"),
    (DetectJobResult, {"not_found": [None]}, "a detect result's 'not_found' is not a list of names"),
    (DetectJobResult, {"completion": {"house": {"completed": True}}},
     "a detect result's 'completion' is not a list of completion records for each name"),
    (DetectJobResult, {"completion": {"house": [{"completed": "yes", "reason": "x"}]}},
     "a target's completion result's 'completed' is not true or false"),
    (SuggestJobResult, {"all_instances": 1}, "a suggest result's 'all_instances' is not true or false"),
    (SuggestJobResult, {"names": ["x" * (MAX_TEXT + 1)]}, "a suggest result's 'names' is not a list of names"),
    (RetextureJobResult, {"faces": 1.5}, "a retexture result's 'faces' is not a whole number"),
    (RetextureJobResult, {"uvs": ["a"]}, "a retexture result's 'uvs' is not a string"),
    (RetextureJobResult, {"metallic_roughness": 1}, "a retexture result's 'metallic_roughness' is not a string"),
    (RetopoJobResult, {"finish": None}, "a retopo result's 'finish' is not an object"),
    (PartsJobResult, {"parts": [{"name": "shade", "faces": "many"}]}, "a parts result's part's 'faces' is not a whole"),
    (PartsJobResult, {"parts": "shade"}, "a parts result's 'parts' is not a list"),
    (RegenerateJobResult, {"source_run": None}, "a regenerate result's 'source_run' is not a string"),
    # Bones Blender would take otherwise: a twin renamed (its weights on the other), a parent cycle dropped.
    (RigJobResult, {"bones": [{**TODAY[RigJobResult]["bones"][0], "parent": -1}, {**TODAY[RigJobResult]["bones"][0],
                                                                                     "parent": 0}]},
     "bones 1 and 2 are both named 'Hips'"),
    (RigJobResult, {"bones": [{**bone, "parent": 1 - index} for index, bone in enumerate(TODAY[RigJobResult]["bones"])]},
     "the bones' parents form a cycle through 'Hips'"),
    (DownloadJobResult, {"models": [3]}, "a model entry must be an object"),
    (DownloadJobResult, {"offline": "no"}, "a download result's 'offline' is not true or false"),
])
def test_a_bad_field_is_refused_in_one_sentence(kind: type, change: dict, sentence: str) -> None:
    with pytest.raises(ProtocolError, match=sentence) as caught:
        kind.from_dict({**TODAY[kind], **change})
    assert caught.value.code is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("kind", list(TODAY), ids=lambda k: k.KIND)
def test_a_missing_key_or_not_an_object_is_refused(kind: type) -> None:
    with pytest.raises(ProtocolError, match=f"a {kind.KIND} result must be an object"):
        kind.from_dict(["not", "an", "object"])
    first = next(iter(TODAY[kind]))
    with pytest.raises(ProtocolError, match=f"a {kind.KIND} result's {first!r}"):
        kind.from_dict({k: v for k, v in TODAY[kind].items() if k != first})


def test_artifact_kinds_are_one_enum_that_reads_as_the_wire_string() -> None:
    assert {k.value for k in ArtifactKind} == {"run", "detections", "overlay", "layout", "mesh", "high_mesh",
                                               "texture", "uvs", "metallic_roughness", "completion", "splats", "part", "picture"}
    line = Artifact(job="j", kind=ArtifactKind.HIGH_MESH, path="/runs/r/high/a.glb").to_line()
    assert json.loads(line)["kind"] == "high_mesh"
    assert decode(line, EVENT_TYPES).kind == ArtifactKind.HIGH_MESH
    assert decode(line.replace("high_mesh", "hologram"), EVENT_TYPES).kind == "hologram"  # a newer kind: kept


def test_target_result_keeps_every_field_of_the_manifest_record() -> None:
    assert [f.name for f in fields(TargetResult)] == list(TARGET)


def test_a_lean_result_reads_its_missing_keys_as_defaults() -> None:
    """What a leaner backend (or the tests' fake one) sends: only the run folder, and what it has."""
    retopo = RetopoJobResult.from_dict({"run_dir": "/runs/q", "targets": [{"target": "statue",
                                                                           "finish": {"fallback": "made triangles"}}]})
    assert (retopo.mesh, retopo.finish, retopo.seed) == ("", None, 0)
    assert retopo.targets[0].fallback == "made triangles"
    generate = GenerateJobResult.from_dict({"run_dir": "/runs/g"})
    assert (generate.targets, generate.answer, generate.texture_skipped) == ((), None, None)
    with pytest.raises(ProtocolError, match="a download result's 'path'"):
        DownloadJobResult.from_dict({"model": "tiny/shape"})
