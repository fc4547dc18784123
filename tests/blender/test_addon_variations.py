"""Variations in real Blender with the real backend: candidates side by side, Keep puts one in place."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")


def _candidates(target: str) -> list:
    return sorted((o for o in bpy.data.objects if o.get("img23d_candidate_of") and o.get("img23d_target") == target),
                  key=lambda o: o["img23d_variation"])


def test_candidates_arrive_side_by_side_and_keep_puts_one_in_place(addon, scene) -> None:
    settings = scene.img23d
    settings.targets, settings.variations, settings.seed = "chimney, barrel", 3, 50
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    chimneys = _candidates("chimney")
    assert [o.name for o in chimneys] == ["chimney (seed 50)", "chimney (seed 51)", "chimney (seed 52)"]
    assert len(_candidates("barrel")) == 3 and "chimney" not in bpy.data.objects  # nothing in place yet
    [holder] = {c.name for o in chimneys for c in o.users_collection}
    assert holder == "house_scene candidates" and holder in bpy.data.collections["house_scene"].children
    # In a row, apart from each other and from the place.
    xs = [o.matrix_world.to_translation() for o in chimneys]
    assert all((a - b).length > 0.5 * max(chimneys[0].dimensions) for a, b in zip(xs, xs[1:]))
    run = Path(chimneys[0]["img23d_run"])
    assert sorted(p.name for p in run.glob("chimney*.glb")) == ["chimney-v2.glb", "chimney-v3.glb", "chimney.glb"]

    bpy.context.view_layer.objects.active = chimneys[1]
    assert bpy.ops.img23d.keep_variation() == {"FINISHED"}
    kept = bpy.data.objects["chimney"]
    assert kept["img23d_seed"] == 51 and kept["img23d_key"] == "chimney-v2"
    assert [c.name for c in kept.users_collection] == ["house_scene"]
    assert _candidates("chimney") == [] and "chimney (seed 50)" not in bpy.data.objects
    assert len(_candidates("barrel")) == 3  # the other object's candidates wait for their own choice
    # Where the object belongs: where Re-layout stands the run's chimney.
    where = kept.matrix_world.to_translation().copy()
    bpy.ops.img23d.relayout(run_dir=str(run))
    assert (kept.matrix_world.to_translation() - where).length < 1e-4
    # Every candidate's files stay in the run folder.
    assert (run / "chimney.glb").is_file() and (run / "chimney-v3.glb").is_file()


def test_keep_without_a_candidate_selected_is_one_sentence(addon, scene) -> None:
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(RuntimeError, match="Select one of the candidates a job with Variations made"):
        bpy.ops.img23d.keep_variation()
