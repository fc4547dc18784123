"""``parts INPUT`` with the parts model (issue 64 items 2-4): a mesh, a picture with a mask, a picture with
names, each on the tiny replica through the command; the turn between Blender's axes and the model's; the
licence in every part file; every bad input one sentence."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from PIL import Image

import glb_credits
from img23d_backend.commands import cli
from img23d_backend.parts import driver
from img23d_backend.parts.autopartgen import part_loop
from img23d_backend.parts.indexed_mask import from_alphas, mask_values
from img23d_backend.matting import driver as matting
from img23d_backend.matting.driver import MattingRun, UnusableMatte
from img23d_backend.parts.part import PartMesh

ROOT = Path(__file__).resolve().parents[3]
HOUSE = ROOT / "examples" / "house_scene.png"   # 1024 x 1024; the tiny grounding model finds a house and a chimney
QUICK = ["--models", "tiny", "--device", "cpu", "--grid", "32", "--part-steps", "2"]


@pytest.fixture(autouse=True)
def _tiny(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _tall_box(path: Path) -> Path:
    """A box 1 wide, 2 deep and 4 tall in Blender's axes, away from the origin: written as glTF (Y up)."""
    box = trimesh.creation.box((1.0, 2.0, 4.0))
    box.apply_translation((3.0, -1.0, 2.0))
    box.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0)))  # Z up -> glTF's Y up
    box.export(path)
    return path


def _glb_json(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20:20 + length])


def _run(tmp_path: Path, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str, Path | None]:
    code = cli.main(["parts", *args, "--out", str(tmp_path / "runs")])
    out = capsys.readouterr()
    runs = sorted((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else []
    return code, out.out, out.err, runs[-1] if runs else None


def test_a_mesh_gives_one_glb_per_part_and_the_whole_each_with_its_licence(tmp_path: Path, capsys) -> None:
    mesh = _tall_box(tmp_path / "crate.glb")
    code, out, err, run = _run(tmp_path, capsys, str(mesh), *QUICK, "--max-parts", "2", "--seed", "3")
    assert code == 0, err
    record = json.loads((run / "parts.json").read_text())
    parts = record["parts"]
    assert 1 <= len(parts) <= 2 and [p["name"] for p in parts] == ["part_01", "part_02"][:len(parts)]
    assert sorted(p.name for p in run.glob("*.glb")) == sorted(["crate_combined.glb",
                                                                 *(f"crate_{p['name']}.glb" for p in parts)])
    assert record["model"] == "autopartgen" and record["frame"] == "the input mesh's"
    # Each part as the model drew it: the faces it was decoded with and as written, none of a split's facts
    # (its caps, the renders its name was found on: zeros there would read as measured).
    for part in parts:
        assert 0 < part["faces"] <= part["decoded_faces"] and not {"cap_faces", "found_on", "open_cuts"} & set(part)
    for glb in run.glob("*.glb"):
        [drawn] = [m for m in glb_credits.credits(glb)["extras"]["models"] if m["model"] == "tiny/autopartgen"]
        assert drawn["role"] == "parts" and drawn["licence_terms"] == record["licence"]
    glb_credits.assert_valid(run / "crate_combined.glb")
    # In the input's frame and size: the model's [-1.01, 1.01] cube, fitted round the input's box, undone.
    source = trimesh.load(mesh, force="mesh")
    centre, half = source.bounds.mean(axis=0), (source.bounds[1] - source.bounds[0]).max() / 2
    combined = trimesh.load(run / "crate_combined.glb")
    assert np.all(np.abs(combined.bounds - centre) <= 1.03 * half)  # decimation may move an edge a little
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["kind"] == "parts" and manifest["options"]["seed"] == 3
    assert "seed: 3" in out


def test_the_model_reads_the_mesh_y_up_and_its_parts_come_back_in_the_inputs_axes(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Echo:  # the parts model's place: one part, the mesh it was given (in the model's axes)
        @staticmethod
        def generate(manager, request, progress, cancel):
            seen["vertices"] = request.vertices
            return [PartMesh(0, "whole", request.vertices, request.faces)]

    monkeypatch.setattr(driver, "generator_of", lambda spec: Echo)
    mesh = _tall_box(tmp_path / "tower.glb")
    code, _, err, run = _run(tmp_path, capsys, str(mesh), *QUICK, "--names", "", "--max-parts", "1")
    assert code == 0, err
    extent = np.ptp(seen["vertices"], axis=0)
    assert np.allclose(extent, [1.0, 4.0, 2.0])   # glTF's axes, +Y up: the 4-tall side is the model's Y
    written = trimesh.load(run / "tower_combined.glb", force="mesh")
    assert np.allclose(written.bounds, trimesh.load(mesh, force="mesh").bounds, atol=1e-5)


def test_a_picture_and_a_mask_give_one_part_per_value_named_by_value(tmp_path: Path, capsys) -> None:
    mask = np.zeros((1024, 1024), np.uint8)
    mask[100:500, 550:800] = 3     # top: taken last
    mask[600:900, 350:520] = 9     # bottom left: taken first
    mask[600:900, 700:900] = 5     # bottom right
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, out, err, run = _run(tmp_path, capsys, str(HOUSE), "--mask", str(tmp_path / "mask.png"),
                               "--names", "lid, body", *QUICK)
    assert code == 0, err
    parts = [p["name"] for p in json.loads((run / "parts.json").read_text())["parts"]]
    # Names go to the values in increasing order (3: lid, 5: body, 9: unnamed); the model takes them bottom
    # to top, then left to right.
    assert parts == ["part_03", "body", "lid"]
    preview = Image.open(run / "part_mask.png")
    assert preview.mode == "RGBA" and len({c for _, c in preview.getcolors()}) == 4   # three parts and none
    assert "part mask:" in out


def test_a_picture_and_names_give_one_part_per_name_found(tmp_path: Path, capsys) -> None:
    code, out, err, run = _run(tmp_path, capsys, str(HOUSE), "--names", "house, chimney", *QUICK)
    assert code == 0, err
    record = json.loads((run / "parts.json").read_text())
    assert sorted(p["name"] for p in record["parts"]) == ["chimney", "house"]
    assert record["frame"] == "the model's [-1, 1], +Y up"
    assert (run / "detections.json").is_file() and (run / "part_mask.png").is_file()
    # Each part's progress: which part, the seconds so far and the whole run's estimate as it looks then.
    assert "part 2 of up to 2 made:" in err and "s so far, about" in err and " s in all" in err


def test_a_part_within_another_wins_the_pixels_their_mattes_share() -> None:
    """Two opaque mattes, the house's round the door's: the door took nothing when it was named second ("house,
    door"), its pixels when named first. The smaller matte now wins the tie in either order."""
    house, door = np.zeros((20, 20)), np.zeros((20, 20))
    house[2:18, 2:18], door[10:16, 8:12] = 1.0, 1.0
    for alphas, door_value in (([house, door], 2), ([door, house], 1)):
        mask = from_alphas(alphas)
        assert (mask[10:16, 8:12] == door_value).all() and (mask[2:10, 2:18] == 3 - door_value).all()
    assert (from_alphas([house, None, door])[10:16, 8:12] == 3).all()


def test_a_name_whose_matte_is_empty_is_said_and_all_failing_is_one_sentence(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name found whose cut-out is empty made no part and nothing was said; every matte failing ended in
    "unexpected StopIteration" (internal)."""
    real = matting.matte_all

    def chimney_empty(run: MattingRun, model: Any, crops: list[Any]) -> list[Any]:
        results = real(run, model, crops)
        results[-1] = results[-1].copy()
        results[-1].putalpha(0)
        return results

    monkeypatch.setattr(matting, "matte_all", chimney_empty)
    code, _, err, run = _run(tmp_path / "one", capsys, str(HOUSE), "--names", "house, chimney", *QUICK)
    assert code == 0, err
    assert "'chimney' could not be cut out of the picture: no part is drawn for it" in err
    assert [p["name"] for p in json.loads((run / "parts.json").read_text())["parts"]] == ["house"]
    monkeypatch.setattr(matting, "matte_all", lambda run, model, crops: [UnusableMatte("nan")] * len(crops))
    code, _, err, _ = _run(tmp_path / "none", capsys, str(HOUSE), "--names", "house, chimney", *QUICK)
    assert code != 0 and "'house' and 'chimney' were found but could not be cut out of the picture, so no part " \
        "mask could be made" in err and "Traceback" not in err, err


def test_a_mask_region_lost_to_the_pictures_scaling_is_said_and_the_names_stay_on_their_values(
        tmp_path: Path, capsys) -> None:
    """A picture wider than the model reads is scaled down, its mask with it: a region one pixel wide vanished,
    and the names went to the values left by rank, so the roof was written as 'antenna'."""
    width, height = 4200, 400
    Image.open(HOUSE).convert("RGB").resize((width, height)).save(tmp_path / "wide.png")
    kept_columns = set(np.minimum((np.arange(4096) + 0.5) * width / 4096, width - 1).astype(int).tolist())
    lost = next(x for x in range(2000, width) if x not in kept_columns)
    mask = np.zeros((height, width), np.uint8)
    mask[250:380, 200:1800], mask[20:240, lost], mask[20:240, 2500:4000] = 1, 2, 3
    Image.fromarray(mask, "L").save(tmp_path / "mask.png")
    code, _, err, run = _run(tmp_path, capsys, str(tmp_path / "wide.png"), "--mask", str(tmp_path / "mask.png"),
                             "--names", "walls, antenna, roof", *QUICK)
    assert code == 0, err
    assert "the mask's region of value 2 ('antenna') is too small to remain when the picture is scaled to 4096 x " \
        in err
    assert sorted(p["name"] for p in json.loads((run / "parts.json").read_text())["parts"]) == ["roof", "walls"]


@pytest.mark.parametrize("names", ["combined", "part_02"])
def test_a_part_named_as_the_combined_file_or_another_part_keeps_every_part(names: str, tmp_path: Path,
                                                                             capsys) -> None:
    """A part named "combined" took the combined file's name, and the run failed after every part ("cannot name
    an object in this run"); a name given as an automatic one (part_02) made two parts of one name, and the
    combined file held one node for both."""
    mask = np.zeros((1024, 1024), np.uint8)
    mask[100:500, 550:800], mask[600:900, 350:520], mask[600:900, 700:900] = 1, 2, 3
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _, err, run = _run(tmp_path, capsys, str(HOUSE), "--mask", str(tmp_path / "mask.png"), "--names", names,
                             *QUICK)
    assert code == 0, err
    record = json.loads((run / "parts.json").read_text())
    parts = [p["name"] for p in record["parts"]]
    assert len(parts) == len({p.casefold() for p in parts}) == 3 and names in parts
    [combined] = run.glob("*_combined.glb")
    assert combined.name not in {p["mesh"] for p in record["parts"]} and len(_glb_json(combined)["nodes"]) == 3


def test_a_mask_region_that_decodes_to_nothing_is_said(tmp_path: Path, capsys,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Three regions, the second drawn as nothing: two parts came back and nothing was said."""
    real, calls = part_loop.decode, []

    def second_empty(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 2 else real(*args, **kwargs)

    monkeypatch.setattr(part_loop, "decode", second_empty)
    mask = np.zeros((1024, 1024), np.uint8)
    mask[100:500, 550:800], mask[600:900, 350:520], mask[600:900, 700:900] = 1, 2, 3
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _, err, run = _run(tmp_path, capsys, str(HOUSE), "--mask", str(tmp_path / "mask.png"),
                             "--names", "top, left, right", *QUICK)
    assert code == 0, err
    assert "1 of the mask's 3 regions decoded to nothing ('right' among them): no part is drawn for them" in err
    warnings = json.loads((run / "manifest.json").read_text())["warnings"]
    assert [w["code"] for w in warnings] == ["part_not_made"]


def test_mask_files_are_read_as_an_artist_paints_them() -> None:
    """A palette whose index 0 is black is its indices (as segmentation tools write it); one of another order
    (index 0 red) lost its red part and made the black background one. A colour mask on a transparent layer
    made its hidden white background a part."""
    regions = np.zeros((8, 8), np.uint8)
    regions[1:4, 1:4], regions[5:7, 5:7] = 1, 2
    indexed = Image.fromarray(regions, "P")
    indexed.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    assert (mask_values(indexed) == regions).all()
    red_first = Image.fromarray(np.choose(regions, [2, 0, 1]).astype(np.uint8), "P")
    red_first.putpalette([255, 0, 0, 0, 0, 255, 0, 0, 0])   # red, blue, then black: the background is index 2
    values = mask_values(red_first)
    assert (values == 0).sum() == (regions == 0).sum() and len(np.unique(values[regions == 1])) == 1 \
        and len(np.unique(values)) == 3
    layer = np.zeros((8, 8, 4), np.uint8)
    layer[...] = (255, 255, 255, 0)                          # white, fully see-through
    layer[regions == 1], layer[regions == 2] = (255, 0, 0, 255), (0, 0, 255, 255)
    values = mask_values(Image.fromarray(layer, "RGBA"))
    assert ((values == 0) == (regions == 0)).all() and len(np.unique(values)) == 3


@pytest.mark.parametrize("make, args, sentence", [
    ("empty", ["--mask"], "the mask marks no part: every value in it is zero"),
    ("short", ["--mask"], "the mask is 1024 x 500 pixels and the picture 1024 x 1024: they must be the same size"),
    ("", ["--names", ", ".join(f"p{i}" for i in range(41))], "41 part names given; at most 40"),
    ("", ["--names", "a, b, c", "--max-parts", "2"], "3 part names given; at most 2"),
    ("", ["--max-parts", "0"], "--max-parts must be 1 to 40"),
    ("", ["--image", str(HOUSE)], "--image adds a picture to a mesh INPUT; INPUT is a picture already"),
    # A mask drew every region whatever --max-parts said.
    ("three", ["--max-parts", "2", "--mask"], "the mask has 3 values and at most 2 parts were asked for: ask for "
                                             "3 or more, or give a mask of fewer values"),
])
def test_bad_input_is_one_sentence(make: str, args: list[str], sentence: str, tmp_path: Path, capsys) -> None:
    if make:
        rows = 500 if make == "short" else 1024
        mask = np.zeros((rows, 1024), np.uint8) + (1 if make == "short" else 0)
        if make == "three":
            mask[:100], mask[200:300], mask[400:500] = 1, 2, 3
        Image.fromarray(mask).save(tmp_path / "m.png")
        args = [*args, str(tmp_path / "m.png")]
    code, _, err, run = _run(tmp_path, capsys, str(HOUSE), *args, *QUICK)
    assert code == 2 and sentence in err, err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    if make == "three":
        assert run is None, "the refusal left a run folder"


def test_a_mesh_with_no_surface_or_names_without_a_picture_is_one_sentence(tmp_path: Path, capsys) -> None:
    line = tmp_path / "line.glb"
    trimesh.Trimesh(np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], float), [[0, 1, 2]], process=False).export(line)
    code, _, err, _ = _run(tmp_path, capsys, str(line), *QUICK)
    assert code == 2 and "has no surface" in err, err
    box = _tall_box(tmp_path / "box.glb")
    code, _, err, _ = _run(tmp_path, capsys, str(box), "--names", "lid", *QUICK)
    assert code == 2 and "--names are found on a picture of the object: add --image" in err
    code, _, err, _ = _run(tmp_path, capsys, str(box), "--mask", str(HOUSE), *QUICK)
    assert code == 2 and "a mask needs the picture it was drawn on: add --image" in err


def test_a_backend_started_without_a_parts_model_registers_it_on_the_first_parts_job(tmp_path: Path) -> None:
    from img23d_protocol import PartsRequest

    from img23d_backend.jobs import Job
    from img23d_backend.session import Models, Session

    session = Session(tmp_path / "runs", Models(models="tiny", device="cpu"))   # as `serve` starts it
    assert "parts" not in session.engine.manager.roles
    request = PartsRequest(id="p1", mode="model", image=str(HOUSE), name="house", grid=32, steps=2, max_parts=1)
    result = session.engine.run(request, Job(id="p1", emit=lambda message: None))
    assert "parts" in session.engine.manager.roles and result.model == "autopartgen" and len(result.parts) == 1
    assert result.licence and (Path(result.run_dir) / result.combined).is_file()


def test_a_parts_request_naming_a_parts_model_is_checked_in_one_sentence(tmp_path: Path) -> None:
    """(protocol 1.24) ``model`` names the parts model that draws: on arrival against the protocol's rows, in the
    job against the backend's table (a request made in-process skips the wire); a split takes none."""
    from img23d_protocol import REQUEST_TYPES, ErrorCode, PartsRequest, ProtocolError, decode

    from img23d_backend.jobs.kinds.parts import PartsRun

    line = PartsRequest(id="p2", mode="model", image=str(HOUSE), model="autopartgen").to_line()
    assert decode(line, REQUEST_TYPES).model == "autopartgen"
    with pytest.raises(ProtocolError, match="unknown parts model 'partcrafter'; choose from autopartgen"):
        decode(line.replace('"autopartgen"', '"partcrafter"'), REQUEST_TYPES)
    with pytest.raises(ProtocolError, match="unknown parts model 'partcrafter'; choose from autopartgen") as raised:
        PartsRun.check_request(PartsRequest(mode="model", image=str(HOUSE), model="partcrafter"))
    assert raised.value.code is ErrorCode.BAD_REQUEST
    mesh = _tall_box(tmp_path / "box.glb")
    with pytest.raises(ProtocolError, match="a split by names uses no parts model, and 'autopartgen' was named"):
        PartsRun.check_request(PartsRequest(mesh=str(mesh), targets=["lid"], model="autopartgen"))


def test_the_parts_model_a_request_names_is_the_one_that_draws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test-only second parts model (``second_parts``: Pieces, each connected piece a part) in the table: a request
    naming it is drawn by it where the set's own (AutoPartGen) was registered, within its own limits (its grid, its
    most parts: its protocol row's, not AutoPartGen's), and one naming none registers the set's own again. Pieces
    alone is loaded: the session builds no tiny set (its replica is written here)."""
    from img23d_protocol import MeshFile, PartsRequest, ProtocolError, licences, parts_models, write_mesh_file
    from img23d_protocol.licences import MIT, REPLICA, ModelLicence
    from img23d_protocol.parts_models import PartsModel

    from img23d_backend.catalog import PARTS_ROLE
    from img23d_backend.jobs import Job
    from img23d_backend.jobs.kinds.parts import PartsRun
    from img23d_backend.parts import table
    from img23d_backend.session import Models, Session
    from second_parts.model import NAME, REPO

    monkeypatch.setitem(table.PARTS_PACKAGES, NAME, "second_parts")
    monkeypatch.setitem(parts_models.PARTS_MODELS, NAME, PartsModel(NAME, "Pieces", "Each connected piece a part",
                                                                    REPO, grids=(16,), default_grid=16, max_parts=8))
    for repo, licence in ((REPO, ModelLicence(REPO, MIT, stated_in="README.md")),
                          (f"tiny/{NAME}", ModelLicence(f"tiny/{NAME}", REPLICA, stated_in="", replicates=REPO))):
        monkeypatch.setitem(licences.MODEL_LICENCES, repo, licence)
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tmp_path / "tiny"))
    session = Session(tmp_path / "runs", Models(models="tiny", device="cpu", parts="autopartgen"), tiny_set=False)
    own = session.engine.settings.models.parts
    session.engine.manager.register(own, table.parts_loader(own))   # the set's own, registered and never loaded
    table.PARTS_CODE[NAME].replica.build(tmp_path / "tiny" / table.PARTS_ROWS[NAME].tiny_folder, "tiny")
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32)
    box = trimesh.convex.convex_hull(corners)
    triangles = np.concatenate([box.faces, box.faces + 8]).astype(np.int32)
    mesh = write_mesh_file(tmp_path / "two.npz", MeshFile(
        positions=np.concatenate([corners, corners + (3, 0, 0)]), triangles=triangles,
        triangle_loops=np.arange(triangles.size, dtype=np.int32).reshape(-1, 3)))
    request = PartsRequest(id="p3", mode="model", mesh=str(mesh), name="two", model=NAME, max_parts=2)
    result = session.engine.run(request, Job(id="p3", emit=lambda message: None))
    assert result.model == NAME and len(result.parts) == 2
    assert request.grid == 16   # Pieces' own grid; before, AutoPartGen's 256 for any model
    for grid, most, sentence in ((32, 0, "the decoding grid must be one of 16 cells a side: Pieces decodes at those, "
                                         "not 32"),
                                 (0, 9, "the most parts must be 1 to 8: Pieces makes at most 8 parts, not 9")):
        with pytest.raises(ProtocolError) as refused:
            PartsRun.check_models(PartsRequest(mode="model", mesh=str(mesh), model=NAME, grid=grid, max_parts=most),
                                  session.engine)
        assert refused.value.message == sentence
    assert table.PARTS_TABLE.name_of(session.engine.manager.spec(PARTS_ROLE)) == NAME
    PartsRun.check_models(PartsRequest(mode="model", mesh=str(mesh)), session.engine)   # naming none: the set's own
    assert session.engine.manager.spec(PARTS_ROLE) == own
