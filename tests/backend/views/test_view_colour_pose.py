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

from view_meshes import bare, barrel, photo_from, psnr, seen_from, toned
from img23d_backend.views import projection
from img23d_backend.views.projection import colour_from_photos

SIZE = 240
POSES = {"front": (0.0, 0.0), "left": (-15.0, 0.0), "right": (10.0, 5.0), "back": (20.0, 8.0)}


@pytest.fixture(scope="module")
def the_barrel() -> trimesh.Trimesh:
    return barrel()


def _as_a_phone_takes_it(photo: Image.Image) -> Image.Image:
    """30 % darker, warmer (blue down a fifth) and saved as a JPEG at quality 70; the cut-out kept."""
    saved = io.BytesIO()
    toned(photo, tuple(0.7 * gain for gain in (1.0, 0.92, 0.8))).convert("RGB").save(saved, "JPEG", quality=70)
    compressed = Image.open(io.BytesIO(saved.getvalue())).convert("RGBA")
    compressed.putalpha(photo.getchannel("A"))
    return compressed


@pytest.fixture(scope="module")
def photos(the_barrel: trimesh.Trimesh) -> dict[str, Image.Image]:
    taken = {side: photo_from(the_barrel, side, *pose, SIZE) for side, pose in POSES.items() if side != "back"}
    taken["back"] = _as_a_phone_takes_it(photo_from(the_barrel, "back", *POSES["back"], SIZE, farther=1 / 0.6))
    return taken


def _seen(mesh: trimesh.Trimesh, texture: Image.Image, azimuth: float) -> np.ndarray:
    return seen_from(mesh, texture, azimuth, SIZE)


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
    back = psnr(_seen(the_barrel, truth, 180), _seen(painted, result.texture, 180))
    assert back >= 20.0, f"the back is {back:.1f} dB from the true barrel's"
    alone = colour_from_photos(painted, {"front": photos["front"]})
    front_truth = _seen(the_barrel, truth, 0)
    assert psnr(front_truth, _seen(painted, result.texture, 0)) >= \
        psnr(front_truth, _seen(painted, alone.texture, 0)) - 0.5

    monkeypatch.setattr(projection, "colour_pose", lambda fit, posed, score: fit)
    outline_only = colour_from_photos(painted, photos)
    assert back > psnr(_seen(the_barrel, truth, 180), _seen(painted, outline_only.texture, 180)) + 6.0


def test_a_barrels_back_photo_with_the_front_alone_keeps_its_sides_pose(the_barrel, photos) -> None:
    """The front and the back share no surface: nothing can tell the back photo's turn, and none is
    guessed (the back's own pose stands, as its outline fits it)."""
    result = colour_from_photos(bare(the_barrel), {"front": photos["front"], "back": photos["back"]})
    assert result.views["back"].used and result.views["back"].yaw == 0.0
