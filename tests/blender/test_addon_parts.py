"""Split Selected into Parts in real Blender with the real backend (tiny models, issue 64 item 5): the
selected mesh's parts arrive in one collection under an Empty at its origin, each named after its
part; the original stays, hidden; a name found nowhere is one warning; bad input is one sentence."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import StandInLayout  # noqa: E402
import img23d_protocol as protocol  # noqa: E402
from testdata import HOUSE, MESH  # noqa: E402


def _select_only(obj) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def _statue():
    bpy.ops.import_scene.gltf(filepath=str(MESH))
    statue = next(o for o in bpy.context.selected_objects if o.type == "MESH")
    statue.name, statue.location, statue.rotation_euler = "statue", (1.0, 2.0, 3.0), (0.0, 0.0, 0.5)
    bpy.context.view_layer.update()  # matrix_world follows the new transform
    _select_only(statue)
    return statue


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_split_selected_puts_each_part_under_an_empty_where_the_object_stood(addon, scene) -> None:
    statue = _statue()
    world = [statue.matrix_world @ v.co for v in statue.data.vertices]
    bpy.context.scene.img23d.part_names = "house, chimney, lampshade"
    assert bpy.ops.img23d.split_parts() == {"FINISHED"}
    empty = bpy.data.objects["statue parts"]
    assert empty.type == "EMPTY" and tuple(round(c, 6) for c in empty.location) == (1.0, 2.0, 3.0)
    parts = sorted(empty.children, key=lambda o: o.name)
    assert [o.name.split(".")[0] for o in parts] == ["chimney", "house"]  # the name found nowhere made none
    assert all(o.type == "MESH" and o["img23d_part_of"] == "statue" for o in parts)
    assert {c.name for o in parts for c in o.users_collection} == {"statue parts"}
    assert statue.hide_get() and statue.hide_render and len(statue.data.polygons) > 0  # kept, hidden
    # Together the parts stand where the statue stood: every part's vertex is one of the statue's surface.
    bounds = [min(v[i] for v in world) for i in range(3)], [max(v[i] for v in world) for i in range(3)]
    for part in parts:
        for vertex in part.data.vertices[:200]:
            co = part.matrix_world @ vertex.co
            assert all(bounds[0][i] - 1e-3 <= co[i] <= bounds[1][i] + 1e-3 for i in range(3)), (part.name, co)
    faces = sum(len(p.data.polygons) for p in parts)
    assert faces >= len(statue.data.polygons) * 0.5  # the input's faces (welded), plus caps


def test_split_with_no_names_or_nothing_selected_is_one_sentence(addon, scene, monkeypatch) -> None:
    sent = []   # each request the operator sends
    monkeypatch.setattr(addon.operators.parts, "JobRunner", lambda session, scene, request, name: sent.append(request))
    statue = _statue()
    bpy.context.scene.img23d.part_names = " , "
    with pytest.raises(RuntimeError, match="Type the parts' names in Parts"):
        bpy.ops.img23d.split_parts()
    # More names than a split makes (the protocol's MAX_SPLIT_PARTS), or than the Max Parts a model is asked for:
    # said here, before the mesh is sent (the add-on took up to 32, and the backend refused them after the upload).
    too_many = protocol.MAX_SPLIT_PARTS + 1
    with pytest.raises(RuntimeError, match=f"{too_many} part names given; at most {protocol.MAX_SPLIT_PARTS} "
                                           r"\(split a part again for finer parts\)"):
        bpy.ops.img23d.split_parts(names=", ".join(f"part {n}" for n in range(too_many)))
    settings = bpy.context.scene.img23d
    settings.parts_method, settings.parts_max = "autopartgen", 2
    try:
        with pytest.raises(RuntimeError, match="3 part names given; at most 2 .the parts model makes at most that "
                                               "many: Max Parts."):
            bpy.ops.img23d.split_parts(names="lid, body, handle")
    finally:
        settings.parts_method = addon.model_choices.SPLIT
    # More triangles than a split holds (MAX_SPLIT_TRIANGLES, lowered here): said before the mesh is written.
    monkeypatch.setattr(protocol, "MAX_SPLIT_TRIANGLES", 10)
    with pytest.raises(RuntimeError, match=r"'statue' has [\d,]+ triangles, more than the 10 a split holds"):
        bpy.ops.img23d.split_parts(names="house")
    assert sent == []
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="Nothing is selected: select one mesh object to split into parts"):
        bpy.ops.img23d.split_parts(names="house")
    assert not statue.hide_get() and "statue parts" not in bpy.data.objects


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_autopartgen_draws_the_parts_of_the_selected_mesh_with_names_found_on_its_picture(addon, scene,
                                                                                          monkeypatch) -> None:
    sent = []   # each request the operator sends: Parts By's choice names the model that draws (protocol 1.24)
    runner = addon.operators.parts.JobRunner
    monkeypatch.setattr(addon.operators.parts, "JobRunner",
                        lambda session, scene, request, name: (sent.append(request), runner(session, scene, request,
                                                                                            name))[1])
    statue = _statue()
    settings = bpy.context.scene.img23d
    settings.parts_method, settings.parts_grid, settings.parts_max = "autopartgen", "32", 2
    settings.part_names = "house, chimney"
    with pytest.raises(RuntimeError, match="AutoPartGen finds the names on a picture of the object"):
        bpy.ops.img23d.split_parts()
    settings.parts_picture = str(HOUSE)
    assert bpy.ops.img23d.split_parts() == {"FINISHED"}
    empty = bpy.data.objects["statue parts"]
    parts = sorted(o.name.split(".")[0] for o in empty.children)
    assert parts == ["chimney", "house"] and all(o["img23d_part_of"] == "statue" for o in empty.children)
    assert [(request.mode, request.model) for request in sent] == [("model", "autopartgen")]
    assert statue.hide_get() and tuple(round(c, 6) for c in empty.location) == (1.0, 2.0, 3.0)
    mask = bpy.data.images["statue part mask"]   # the mask the model used, to look at
    assert tuple(mask.size) == (1024, 1024) and empty["img23d_part_mask"].endswith("part_mask.png")


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_generate_makes_a_name_in_parts_too_its_parts_under_an_empty_where_it_stands(addon, scene) -> None:
    settings = bpy.context.scene.img23d
    settings.image_source, settings.image_path = "FILE", str(HOUSE)
    settings.targets, settings.texture, settings.parts_grid = "house (chimney, door), chimney", False, "32"
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    house = next(o for o in bpy.data.objects if o.get("img23d_key") == "house")
    empty = bpy.data.objects["house parts"]
    assert sorted(o.name.split(".")[0] for o in empty.children) == ["chimney", "door"]
    # The parts stand where the house does (to float32's last bits: the house's matrix is the one the job's end set,
    # with the mesh's fit to its points, the Empty's made again from the transform it copied).
    assert house.hide_get() and all(abs(a - b) < 1e-6 for row_a, row_b in zip(empty.matrix_world, house.matrix_world)
                                    for a, b in zip(row_a, row_b))
    chimney = next(o for o in bpy.data.objects if o.get("img23d_key") == "chimney")
    assert not chimney.hide_get() and "chimney parts" not in bpy.data.objects
    # Re-layout, asked from a part: the parts follow their whole (they stayed where the picture no longer put it).
    where = house.matrix_world.copy()
    settings.estimate_fov, settings.fov = False, 0.4
    _select_only(empty.children[0])
    assert bpy.ops.img23d.relayout() == {"FINISHED"}
    bpy.context.view_layer.update()
    assert house.matrix_world != where and empty.matrix_world == house.matrix_world
    # Import Run brings the parts back too: they were lost.
    assert bpy.ops.img23d.import_run(filepath=house["img23d_run"]) == {"FINISHED"}
    again = next(o for o in bpy.data.objects if o.get("img23d_key") == "house" and o != house)
    empties = [o for o in bpy.data.objects if o.type == "EMPTY" and o.get("img23d_part_of") == again.name]
    assert len(empties) == 1 and sorted(o.name.split(".")[0] for o in empties[0].children) == ["chimney", "door"]
    assert again.hide_get()


def test_an_object_renamed_while_its_parts_are_made_gets_them_and_one_given_its_name_does_not(addon, scene,
                                                                                                monkeypatch) -> None:
    """The parts come at the job's end and were placed by the name each object had when it arrived: renamed
    meanwhile, its parts were lost without a word, and another object given that name took them."""
    settings = bpy.context.scene.img23d
    settings.image_source, settings.image_path = "FILE", str(HOUSE)
    settings.targets, settings.texture, settings.parts_grid = "house (chimney, door)", False, "32"
    runner_class = addon.job_runner.JobRunner
    place = runner_class._place_mesh
    impostors = []

    def place_then_rename(self, artifact) -> None:   # the artist renames the house as soon as it stands
        place(self, artifact)
        house = bpy.data.objects.get("house")
        if house is not None and not impostors:
            house.name = "my house"
            impostor = bpy.data.objects.new("house", bpy.data.meshes.new("lamp"))
            impostor["img23d_key"] = "house"
            bpy.context.scene.collection.objects.link(impostor)
            impostors.append(impostor)

    monkeypatch.setattr(runner_class, "_place_mesh", place_then_rename)
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    mine = bpy.data.objects["my house"]
    [empty] = [o for o in bpy.data.objects if o.type == "EMPTY" and o.name.endswith(" parts")]
    assert empty.name == "my house parts" and mine.hide_get() and not impostors[0].hide_get()


def test_a_badly_bracketed_name_is_one_sentence_before_anything_is_sent(addon, scene) -> None:
    settings = bpy.context.scene.img23d
    settings.image_source, settings.image_path, settings.targets = "FILE", str(HOUSE), "house (door"
    with pytest.raises(RuntimeError, match="A bracket is not closed"):
        bpy.ops.img23d.generate()


def test_the_panel_shows_autopartgens_licence_where_it_is_chosen(addon, scene) -> None:
    def labels() -> list[str]:
        log: list[tuple] = []
        addon.panels.main.IMG23D_PT_main.draw(type("StandInPanel", (), {"layout": StandInLayout(log)})(), bpy.context)
        return [kwargs.get("text", "") for name, args, kwargs in log if name == "label"]

    _statue()
    settings = bpy.context.scene.img23d
    settings.targets = "house, chimney"
    assert not any("FAIR Noncommercial" in label for label in labels())
    settings.targets = "house (door), chimney"   # a name in parts: the licence under Names
    assert "Parts by AutoPartGen: FAIR Noncommercial Research License v1:" in labels()
    settings.targets, settings.parts_method = "house", "autopartgen"   # Split into Parts by AutoPartGen
    shown = labels()
    assert "non-commercial research use only, the parts it makes included" in shown


def test_parts_by_and_rig_by_are_the_protocols_rows_and_a_second_model_is_a_row_alone(addon, monkeypatch) -> None:
    choices = addon.model_choices
    protocol = choices.protocol   # the add-on's own copy (its wheel's)
    properties = bpy.context.scene.img23d.bl_rna.properties
    assert [item.identifier for item in properties["parts_method"].enum_items] == ["split", *protocol.PARTS_MODELS]
    assert [item.identifier for item in properties["rig_weights"].enum_items] == list(protocol.RIGGERS)
    assert properties["rig_weights"].default == protocol.DEFAULT_RIGGER
    assert properties["parts_max"].hard_max == protocol.PARTS_MODELS[protocol.DEFAULT_PARTS_MODEL].max_parts
    # A test-only parts model and rigger under a permissive licence: a row each, and the panel offers them.
    monkeypatch.setitem(protocol.PARTS_MODELS, "tiny-parts", protocol.PartsModel(
        "tiny-parts", "Tiny Parts", "Draws parts for a test", "tiny/autopartgen", grids=(16, 32), default_grid=32,
        max_parts=60))
    monkeypatch.setitem(protocol.RIGGERS, "tiny-rigger", protocol.Rigger(
        "tiny-rigger", "Tiny Rigger", "Rigs for a test", repo_id="tiny/skintokens"))
    assert choices.parts_method_items()[-1] == ("tiny-parts", "Tiny Parts", "Tiny Parts draws parts for a test")
    assert choices.parts_method_items()[1][1] == "AutoPartGen (non-commercial)"
    assert [item[0] for item in choices.grid_items()] == ["16", "32", "64", "128", "256", "512"]
    assert choices.most_parts() == 60 and choices.licence_lines(protocol.PARTS_MODELS["tiny-parts"]) == []
    assert choices.rigger_items()[-1] == ("tiny-rigger", "Tiny Rigger", "Rigs for a test")
    # An artist's armature is bound by a rigger that keeps it, whichever Rig By names.
    assert (choices.rig_weights("tiny-rigger", False), choices.rig_weights("tiny-rigger", True)) == \
        ("tiny-rigger", "geometric")
