"""Photos of a round object taken off their sides (issue 66 item 1): a barrel's outline is the same from
every side, so only the colours its photos share with the pictures placed before them tell their poses
(views/colour_turn.py). Each photo is a render of the true barrel, as a camera a little off its side
takes it; the back one also from farther away, darker, warmer and saved as a JPEG. No model: seconds."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh
from PIL import Image

from view_meshes import bare, barrel, frame, psnr
from img23d_backend.views import projection
from img23d_backend.views.cameras import Window, camera_for
from img23d_backend.views.projection import colour_from_photos
from img23d_backend.views.renders import render, to_image

SIZE = 240
POSES = {"front": (0.0, 0.0), "left": (-15.0, 0.0), "right": (10.0, 5.0), "back": (20.0, 8.0)}


@pytest.fixture(scope="module")
def the_barrel() -> trimesh.Trimesh:
    return barrel()


def _photo(mesh: trimesh.Trimesh, side: str, yaw: float, pitch: float, farther: float = 1.0) -> Image.Image:
    """``mesh`` as a camera turned ``yaw`` and raised ``pitch`` off ``side`` sees it; ``farther`` times as far
    away (the object that much smaller in the picture)."""
    centre, window = frame(mesh, SIZE)
    return to_image(render(mesh, mesh.visual.material.baseColorTexture, camera_for(side, centre, None, yaw, pitch),
                           Window(window.half * farther, SIZE)))


def _as_a_phone_takes_it(photo: Image.Image) -> Image.Image:
    """30 % darker, warmer (blue down a fifth) and saved as a JPEG at quality 70; the cut-out kept."""
    rgba = np.asarray(photo, dtype=np.float64)
    rgba[..., :3] = np.clip(rgba[..., :3] * 0.7 * np.array([1.0, 0.92, 0.8]), 0, 255)
    toned = Image.fromarray(rgba.astype(np.uint8), "RGBA")
    saved = io.BytesIO()
    toned.convert("RGB").save(saved, "JPEG", quality=70)
    compressed = Image.open(io.BytesIO(saved.getvalue())).convert("RGBA")
    compressed.putalpha(photo.getchannel("A"))
    return compressed


def _seen_from(mesh: trimesh.Trimesh, texture: Image.Image, azimuth: float) -> np.ndarray:
    centre, window = frame(mesh, SIZE)
    return render(mesh, texture, camera_for("front", centre, None, azimuth, 0.0), window)


@pytest.fixture(scope="module")
def photos(the_barrel: trimesh.Trimesh) -> dict[str, Image.Image]:
    taken = {side: _photo(the_barrel, side, *pose) for side, pose in POSES.items() if side != "back"}
    taken["back"] = _as_a_phone_takes_it(_photo(the_barrel, "back", *POSES["back"], farther=1 / 0.6))
    return taken


def test_a_barrels_photos_off_their_sides_are_placed_by_their_colours(the_barrel, photos, monkeypatch) -> None:
    """Four photos, each a little off its side, the back one 20 degrees round, 8 up, from farther away,
    darker, warmer and a JPEG: each pose is found within a few degrees (the right's tilt with its sign, which
    the outline cannot tell), the back is coloured head-on at 20 dB or more, and the front is never worse
    than the front photo alone makes it. With the outline alone (the colours not asked) the back is pasted
    20 degrees round: 6 dB and more worse."""
    painted = bare(the_barrel)
    result = colour_from_photos(painted, photos)
    assert result.used == ["front", "left", "back", "right"], result.left_out
    for side, (yaw, pitch) in POSES.items():
        outcome = result.views[side]
        assert abs(outcome.yaw - yaw) <= 2.5 and abs(outcome.pitch - pitch) <= 2.5, (side, outcome)
    gain = result.views["back"].gain
    assert gain is not None and min(gain) > 1.3 and gain[2] > gain[0]   # brighter, and bluer than it is red
    truth = the_barrel.visual.material.baseColorTexture
    back = psnr(_seen_from(the_barrel, truth, 180), _seen_from(painted, result.texture, 180))
    assert back >= 20.0, f"the back is {back:.1f} dB from the true barrel's"
    alone = colour_from_photos(painted, {"front": photos["front"]})
    front_truth = _seen_from(the_barrel, truth, 0)
    assert psnr(front_truth, _seen_from(painted, result.texture, 0)) >= \
        psnr(front_truth, _seen_from(painted, alone.texture, 0)) - 0.5

    monkeypatch.setattr(projection, "colour_pose", lambda fit, posed, score: fit)
    outline_only = colour_from_photos(painted, photos)
    assert back > psnr(_seen_from(the_barrel, truth, 180), _seen_from(painted, outline_only.texture, 180)) + 6.0


def test_a_barrels_back_photo_with_the_front_alone_keeps_its_sides_pose(the_barrel, photos) -> None:
    """The front and the back share no surface: nothing can tell the back photo's turn, and none is
    guessed (the back's own pose stands, as its outline fits it)."""
    result = colour_from_photos(bare(the_barrel), {"front": photos["front"], "back": photos["back"]})
    assert result.views["back"].used and result.views["back"].yaw == 0.0
