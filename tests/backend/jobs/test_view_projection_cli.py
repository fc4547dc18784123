"""``retexture MESH FRONT --view back=BACK`` from the command line with the tiny models (issue 55's
done-when): a mesh whose texture differs front and back comes back matching its original from both
sides, where the tiny paint model alone paints noise; a view that cannot be used is one sentence and
the job goes on; a wrong side or a missing file is one sentence before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_inprocess import RunCli
from view_meshes import box, frame, psnr, read_glb, side_renders, write_glb
from img23d_backend.commands.chain import side_views
from img23d_backend.views.renders import camera_at, render
from img23d_protocol import ErrorCode, ProtocolError

PAINT = ["--models", "tiny", "--texture-size", "256", "--paint-steps", "2", "--delight-steps", "2", "--no-materials"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("views")
    mesh = box()
    write_glb(mesh, folder / "box.glb")
    for side, picture in side_renders(mesh, ("front", "back")).items():
        picture.save(folder / f"{side}.png")  # real alpha: no matting
    (folder / "left.png").write_text("not a picture")
    speck = np.zeros((200, 200, 4), np.uint8)
    speck[90:100, 90:100] = (255, 0, 0, 255)  # an object 10 pixels tall: nothing to give a whole side
    Image.fromarray(speck, "RGBA").save(folder / "right.png")
    return folder


def test_front_and_back_photos_make_the_retextured_mesh_match_on_both_sides(cli: RunCli, inputs: Path) -> None:
    out = cli("retexture", str(inputs / "box.glb"), str(inputs / "front.png"),
              "--view", f"back={inputs / 'back.png'}", "--view", f"left={inputs / 'left.png'}",
              "--view", f"right={inputs / 'right.png'}",
              "--out", str(inputs / "runs"), *PAINT)
    assert out.returncode == 0, out.stderr
    assert "coloured from the pictures of its front, back" in out.stdout
    assert "the left view was left out: left.png is not an image file Pillow can read" in out.stdout
    # As a Generate leaves it out: it painted a third of a house's texture from 100 pixels.
    assert "the right view was left out: its object is 10 pixels tall, fewer than the 16 a view needs" in out.stdout
    run = Path(next(line for line in out.stdout.splitlines() if line.startswith("run folder: "))[12:])
    assert sorted(p.name for p in (run / "views_in" / "box").iterdir()) == [
        "back.given.png", "back.png", "left.given.png", "right.given.png"]
    record = json.loads((run / "manifest.json").read_text())["records"][0]
    assert record["views"] == {"back": "views_in/box/back.png"}
    assert record["projection"]["front"]["used"] and record["projection"]["back"]["residual"] < 0.05
    original, made = box(), read_glb(run / "box.glb")
    centre, window = frame(original, 256)
    for azimuth in (0, 180):  # the photos' sides: the tiny model's noise replaced
        camera = camera_at(azimuth, centre)
        seen = psnr(render(original, original.visual.material.baseColorTexture, camera, window),
                    render(made, made.visual.material.baseColorTexture, camera, window))
        assert seen > 30, f"from {azimuth} degrees the re-texture is {seen:.1f} dB from the original"
    camera = camera_at(90, centre)  # no photo saw the left side: the paint model's own colours stay
    unseen = psnr(render(original, original.visual.material.baseColorTexture, camera, window),
                  render(made, made.visual.material.baseColorTexture, camera, window))
    assert unseen < 20


@pytest.mark.parametrize("view, sentence", [
    ("top=x.png", "names the side 'top': sides are left, back, right"),
    ("back", "must be SIDE=PATH"),
    ("back=nowhere.png", "no picture file at nowhere.png for --view back"),
])
def test_a_wrong_view_is_one_sentence(view: str, sentence: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        side_views([view])
    assert refused.value.code is ErrorCode.BAD_REQUEST and sentence in refused.value.message


def test_the_command_says_a_wrong_view_before_any_model_loads(cli: RunCli, inputs: Path) -> None:
    out = cli("retexture", str(inputs / "box.glb"), str(inputs / "front.png"), "--view", "top=x.png",
              "--out", str(inputs / "refused"), *PAINT)
    assert out.returncode == 2 and "names the side 'top'" in out.stderr and "Traceback" not in out.stderr
    assert not any((inputs / "refused").glob("*/manifest.json"))
