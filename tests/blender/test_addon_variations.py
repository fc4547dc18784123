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

    # Regenerated, a candidate's name says its new seed: the number to type into Seed to make it again.
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == chimneys[2])
    bpy.context.view_layer.objects.active = chimneys[2]
    assert bpy.ops.img23d.regenerate() == {"FINISHED"}
    assert chimneys[2].name == f"chimney (seed {chimneys[2]['img23d_seed']})" != "chimney (seed 52)"
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


def test_keep_tidies_its_own_candidates_alone_and_re_layout_places_a_parented_object(addon, scene) -> None:
    """Keep removed a collection of the artist's that held the chosen candidate, and the candidates of another
    import of the same run; Re-layout wrote a world placement into a parented object's own transform."""
    settings = scene.img23d
    settings.targets, settings.variations, settings.seed = "chimney", 2, 70
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    first = _candidates("chimney")
    run = Path(first[0]["img23d_run"])
    assert bpy.ops.img23d.import_run(filepath=str(run / "manifest.json")) == {"FINISHED"}
    second = [o for o in _candidates("chimney") if o not in first]
    assert len(second) == 2
    artist = bpy.data.collections.new("Props")
    home = bpy.data.collections.new("Set")
    bpy.context.scene.collection.children.link(home)
    home.children.link(artist)
    for collection in list(second[0].users_collection):
        collection.objects.unlink(second[0])
    artist.objects.link(second[0])
    bpy.context.view_layer.update()
    bpy.context.view_layer.objects.active = second[0]
    assert bpy.ops.img23d.keep_variation() == {"FINISHED"}
    assert "Props" in bpy.data.collections and "Set" in bpy.data.collections   # the artist's, kept
    assert all(o.name in bpy.data.objects for o in first) and second[1].name in bpy.data.objects
    # Re-layout stands a parented object where it stands unparented.
    bpy.context.view_layer.objects.active = first[0]
    assert bpy.ops.img23d.keep_variation() == {"FINISHED"}
    kept = bpy.context.view_layer.objects.active
    bpy.ops.img23d.relayout(run_dir=str(run))
    alone = kept.matrix_world.copy()
    holder = bpy.data.objects.new("holder", None)
    bpy.context.scene.collection.objects.link(holder)
    holder.location, holder.scale = (3.0, 1.0, 0.5), (2.0, 2.0, 2.0)
    bpy.context.view_layer.update()
    kept.parent, kept.matrix_parent_inverse = holder, holder.matrix_world.inverted()
    bpy.ops.img23d.relayout(run_dir=str(run))
    bpy.context.view_layer.update()
    assert max(abs(a - b) for row_a, row_b in zip(kept.matrix_world, alone) for a, b in zip(row_a, row_b)) < 1e-4


def test_a_seed_past_blenders_32_bit_property_is_kept_as_its_digits(addon, scene) -> None:
    """A run made with --seed 2**40 stopped Import Run midway with a traceback (an ID property is 32-bit)."""
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    addon.scene_import.tag(cube, seed=2**40, instance=2)
    assert cube["img23d_seed"] == str(2**40) and cube["img23d_instance"] == 2


def test_keep_leaves_the_artists_copy_waits_for_the_job_and_finds_home_without_the_runs_collection(
        addon, scene, monkeypatch) -> None:
    """Keep deleted the artist's Shift+D copy of a candidate (it carries the candidate's tags); kept a candidate
    while the job still sent that object's others (they came beside it: two objects); and, the run's collection
    deleted, left the kept object among the candidates. (And Re-layout of candidates alone moved the camera.)"""
    settings = scene.img23d
    settings.targets, settings.variations, settings.seed = "chimney", 3, 80
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    first, second, third = _candidates("chimney")
    removed = third.name
    # Re-layout of a run of candidates alone lays nothing out, and leaves its camera as it leaves them: it moved
    # the camera with no undo step (the operator was cancelled).
    camera = next(o for o in bpy.data.objects if o.type == "CAMERA" and o.get("img23d_camera")
                  and o.get("img23d_run") == first["img23d_run"])
    where, lens = camera.matrix_world.copy(), camera.data.angle
    settings.estimate_fov, settings.fov = False, 0.4
    bpy.context.view_layer.objects.active = first
    assert bpy.ops.img23d.relayout() == {"CANCELLED"}
    assert camera.matrix_world == where and camera.data.angle == lens
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == first)
    bpy.context.view_layer.objects.active = first
    assert bpy.ops.object.duplicate() == {"FINISHED"}
    mine = bpy.context.active_object
    mine.name = "my chimney edit"
    [holder] = first.users_collection
    run_collection = bpy.data.collections["house_scene"]
    run_collection.children.unlink(holder)
    bpy.context.scene.collection.children.link(holder)   # as the outliner does when the run's collection goes
    bpy.data.collections.remove(run_collection)
    bpy.context.view_layer.objects.active = second
    monkeypatch.setattr(addon.runtime, "active_runner", type("Running", (), {"finished": False})())
    with pytest.raises(RuntimeError, match="A job is still running: press Keep once it has finished"):
        bpy.ops.img23d.keep_variation()
    monkeypatch.setattr(addon.runtime, "active_runner", None)
    assert bpy.ops.img23d.keep_variation() == {"FINISHED"}
    kept = bpy.data.objects["chimney"]
    assert kept == second and [c.name for c in kept.users_collection] == [bpy.context.scene.collection.name]
    assert "my chimney edit" in bpy.data.objects and first.name in bpy.data.objects  # a candidate and its copy
    assert removed not in bpy.data.objects

