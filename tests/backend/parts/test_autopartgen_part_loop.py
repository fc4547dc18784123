"""AutoPartGen's sampling and part loop (issue 64 item 3) on the tiny replica: the release's scheduler
settings and guidance, the mask order, every bad input in one sentence, seeds, cancel, and a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from img23d_backend.env.job_control import CancelToken
from img23d_backend.parts.autopartgen import config as sizes
from img23d_backend.parts.autopartgen import replica
from img23d_backend.parts.autopartgen.denoise import sample_part
from img23d_backend.parts.autopartgen.guidance import MODES, Guidance, mode, scheduler
from img23d_backend.parts.autopartgen.loader import load_autopartgen
from img23d_backend.parts.autopartgen.part_loop import check_request, generate_parts, mask_regions
from img23d_backend.parts.autopartgen.surface import Frame, overlap
from img23d_backend.parts.part import PartMesh, PartsRequest

CUBE_V = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float32)
CUBE_F = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                   [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])


@pytest.fixture(scope="module")
def networks(tmp_path_factory: pytest.TempPathFactory):
    dest = tmp_path_factory.mktemp("autopartgen")
    replica.build(dest, sizes.tiny())
    return load_autopartgen(dest, dest / replica.DINO_FOLDER, sizes.tiny(), "cpu").obj


def test_the_scheduler_is_the_releases() -> None:
    s = scheduler()
    assert type(s).__name__ == "DPMSolverMultistepScheduler"
    assert (s.config.prediction_type, s.config.algorithm_type, s.config.timestep_spacing) == \
        ("v_prediction", "sde-dpmsolver++", "trailing")
    assert s.config.rescale_betas_zero_snr and s.config.beta_schedule == "scaled_linear"
    s.set_timesteps(50)
    assert len(s.timesteps) == 50 and int(s.timesteps[0]) == 999


def test_guidance_per_mode_and_its_combination() -> None:
    assert MODES[mode(True, False, False)] == Guidance(0, 2) == MODES[mode(False, True, False)]
    assert MODES[mode(True, True, True)] == Guidance(5, 5) == MODES[mode(True, False, True)]
    u, ig, g = torch.tensor([1.0]), torch.tensor([4.0]), torch.tensor([2.0])
    assert torch.allclose(Guidance(0, 2).combine(u, ig, g), u + 2 * (g - u))
    assert torch.allclose(Guidance(5, 5).combine(u, ig, g), u + 5 * (ig - g) + 5 * (g - u))


def test_mask_regions_go_bottom_to_top_then_left_to_right() -> None:
    mask = np.zeros((10, 10), np.uint8)
    mask[0:3, 6:9] = 7     # top right
    mask[7:10, 5:8] = 2    # bottom, right
    mask[7:10, 0:3] = 9    # bottom, left
    mask[2:5, 0:2] = 4     # top left, lower than 7
    order = [int(np.unique(mask[r])[0]) for r in mask_regions(mask)]
    assert order == [9, 2, 4, 7]


@pytest.mark.parametrize("request_, words", [
    (PartsRequest(), "give a picture, a mesh"),
    (PartsRequest(vertices=CUBE_V, faces=np.zeros((0, 3), int)), "the mesh has no surface"),
    (PartsRequest(vertices=CUBE_V, faces=CUBE_F, names=("a", "b", "c"), max_parts=2), "3 names were given for at most 2"),
    (PartsRequest(image=Image.new("RGB", (8, 6)), mask=np.zeros((6, 8), int)), "the mask marks no part"),
    (PartsRequest(image=Image.new("RGB", (8, 6)), mask=np.ones((8, 8), int)), "the mask is 8 x 8 pixels and the picture 8 x 6"),
])
def test_bad_requests_are_one_sentence(request_: PartsRequest, words: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        check_request(request_)
    assert raised.value.code is ErrorCode.BAD_REQUEST and words in str(raised.value)


def test_a_part_draw_is_reproducible_and_cancellable(networks) -> None:
    cfg = networks.config.dit
    image = torch.randn(1, 21, 64, generator=torch.Generator().manual_seed(0))
    dropped = torch.zeros_like(image)
    history = torch.randn(1, 2, cfg.latents, cfg.latent_dim, generator=torch.Generator().manual_seed(1))
    first = sample_part(networks, image, dropped, history, Guidance(5, 5), 3, 3, CancelToken())
    again = sample_part(networks, image, dropped, history, Guidance(5, 5), 3, 3, CancelToken())
    other = sample_part(networks, image, dropped, history, Guidance(5, 5), 4, 3, CancelToken())
    assert first.shape == (1, cfg.latents, cfg.in_channels) and torch.equal(first, again)
    assert not torch.equal(first, other)
    token = CancelToken()
    token.cancel()
    with pytest.raises(ProtocolError) as raised:
        sample_part(networks, image, dropped, history, Guidance(5, 5), 3, 3, token)
    assert raised.value.code is ErrorCode.CANCELLED


def test_frames_and_overlap() -> None:
    vertices = CUBE_V * np.array([4.0, 2.0, 1.0]) + 10
    frame = Frame.of(vertices)
    inside = frame.into(vertices)
    assert np.isclose(np.abs(inside).max(), 1.0) and np.allclose(frame.back(inside), vertices)
    cube = (CUBE_V - 0.5, CUBE_F)
    assert overlap(cube, [cube], 0) > 0.9  # sampled surfaces: the same one marks (almost) the same voxels
    assert overlap(cube, [(CUBE_V + 0.6 - 0.5, CUBE_F)], 0) < 0.3
    assert overlap(cube, [], 0) == 0.0


def test_a_mesh_request_runs_to_the_end_reproducibly(networks) -> None:
    request = PartsRequest(vertices=CUBE_V * 3 + 5, faces=CUBE_F, max_parts=1, seed=1, grid=16, steps=2,
                           names=("lid",))
    reports = []
    parts = generate_parts(request, networks, reports.append, CancelToken())
    again = generate_parts(request, networks, lambda report: None, CancelToken())
    assert all(isinstance(p, PartMesh) for p in parts) and len(parts) <= 1
    assert [p.name for p in parts] == ["lid", "part_02"][:len(parts)]
    assert len(reports) == len(parts) and all(r.part == i + 1 for i, r in enumerate(reports))
    assert [p.vertices.tolist() for p in parts] == [p.vertices.tolist() for p in again]
    for part in parts:  # back in the input's frame: the [-1.01, 1.01] cube around the input's centre
        assert np.all(np.abs(part.vertices - 6.5) <= 1.01 * 1.5 + 1e-4)


def test_a_masks_parts_are_named_by_value_and_made_bottom_to_top(networks) -> None:
    picture = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    picture.paste((200, 40, 40, 255), (4, 4, 28, 28))
    mask = np.zeros((32, 32), np.uint8)
    mask[4:14, 4:28] = 7    # the top half: the second region the model takes
    mask[16:28, 4:28] = 2   # the bottom half: the first
    request = PartsRequest(image=picture, mask=mask, names=("seat", "back"), seed=2, grid=16, steps=2)
    parts = generate_parts(request, networks, lambda report: None, CancelToken())
    # The first name goes to the smallest value (2, the bottom), which the model also takes first.
    assert [p.name for p in parts] == ["seat", "back"]
    assert all(len(p.faces) for p in parts)
