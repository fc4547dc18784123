"""Step1X-3D's multiview texture model generating views from the tiny replica, and its parts
checked against direct computations: the multiview attention token by token, the shifted
schedule from its formula, the reference picture's placement, the control maps' encoding.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clean_texture_replica import red_cutout, texture_folders

from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.step1x.texture.attention import AttentionState, MultiviewAttnProcessor, Pass
from img23d_backend.families.step1x.texture.conditions import control_maps, prepare_reference
from img23d_backend.families.step1x.texture.generate import MultiviewSettings, generate_views
from img23d_backend.families.step1x.texture.loader import load_texture_model
from img23d_backend.families.step1x.texture.scheduler import make_scheduler
from img23d_backend.families.step1x.texture import replica
from img23d_protocol import ErrorCode, ProtocolError
from testdata import SOURCE_PYTHONPATH

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

FAST = MultiviewSettings(steps=3, size=64)
RUN_TIMEOUT = 240
SECONDS = 60   # a tiny six-view run takes about 2 s here; the bound leaves room for a busy machine


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("step1x-texture")
    replica.build(root, replica.config("tiny"))
    return root


@pytest.fixture(scope="module")
def model(root: Path):
    return load_texture_model(texture_folders(root), "cpu", torch.float32)


def _controls(seed: int = 0, size: int = 64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    positions = torch.rand(6, size, size, 3, generator=generator) - 0.5
    normals = torch.nn.functional.normalize(torch.randn(6, size, size, 3, generator=generator), dim=-1)
    masks = torch.rand(6, size, size, generator=generator) > 0.3
    return control_maps(positions, normals, masks)


# ---------------------------------------------------------------------------------------------
# The parts, against direct computations
# ---------------------------------------------------------------------------------------------


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """One query set against one key set, head by head, written out: [Nq, C], [Nk, C] -> [Nq, C]."""
    d = q.shape[1] // heads
    out = []
    for h in range(heads):
        part = slice(h * d, (h + 1) * d)
        weights = torch.softmax(q[:, part] @ k[:, part].T / math.sqrt(d), dim=-1)
        out.append(weights @ v[:, part])
    return torch.cat(out, dim=1)


def test_multiview_attention_matches_a_token_by_token_computation() -> None:
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    width, heads, side, groups = 16, 2, 4, 2
    attn = Attention(query_dim=width, heads=heads, dim_head=width // heads, bias=False, out_bias=True).double()
    state = AttentionState(mode=Pass.MULTIVIEW, mv_scale=0.7, ref_scale=1.3)
    processor = MultiviewAttnProcessor(width, "layer", state).double()
    hidden = torch.randn(groups * 6, side * side, width, dtype=torch.float64)
    state.reference = {"layer": torch.randn(groups, 5, width, dtype=torch.float64)}
    with torch.no_grad():
        got = processor(attn, hidden)
        p = processor
        grid = lambda x: x.view(groups, 6, side, side, width)  # noqa: E731
        q, k, v = grid(p.to_q_mv(hidden)), grid(p.to_k_mv(hidden)), grid(p.to_v_mv(hidden))
        expected = torch.zeros_like(hidden)
        for g in range(groups):
            for view in range(6):
                for r in range(side):
                    for c in range(side):
                        parts = []
                        if view < 4:   # its row in front, right, back and left
                            keys = [(u, r, cc) for u in range(4) for cc in range(side)]
                            parts.append(keys)
                        if view in (0, 2, 4, 5):   # its column in front (mirrored), back, top, bottom
                            mine, others = (c, side - 1 - c) if view == 0 else (side - 1 - c, c)
                            parts.append([(0, rr, mine) for rr in range(side)]
                                         + [(u, rr, others) for u in (2, 4, 5) for rr in range(side)])
                        outs = [_attend(q[g, view, r, c][None], torch.stack([k[g, u, rr, cc] for u, rr, cc in keys]),
                                        torch.stack([v[g, u, rr, cc] for u, rr, cc in keys]), heads) for keys in parts]
                        expected[g * 6 + view, r * side + c] = sum(outs)[0] / len(outs)
        expected = p.to_out_mv[0](expected)
        for b in range(groups * 6):
            x, ref = hidden[b], state.reference["layer"][b // 6]
            main = attn.to_out[0](_attend(attn.to_q(x), attn.to_k(x), attn.to_v(x), heads))
            reference = p.to_out_ref[0](_attend(p.to_q_ref(x), p.to_k_ref(ref), p.to_v_ref(ref), heads))
            expected[b] = main + 0.7 * expected[b] + 1.3 * reference
    assert torch.allclose(got, expected, atol=1e-10), (got - expected).abs().max()


def test_plain_and_capture_passes_are_sdxls_own_attention() -> None:
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    torch.manual_seed(1)
    attn = Attention(query_dim=16, heads=2, dim_head=8, bias=False, out_bias=True)
    state = AttentionState(mode=Pass.CAPTURE)
    processor = MultiviewAttnProcessor(16, "layer", state)
    hidden = torch.randn(1, 9, 16)
    with torch.no_grad():
        assert torch.allclose(processor(attn, hidden), AttnProcessor2_0()(attn, hidden), atol=1e-6)
    assert torch.equal(state.reference["layer"], hidden)


def test_the_schedule_is_sdxls_with_its_snr_shifted_by_eight_towards_the_end() -> None:
    scheduler = make_scheduler(replica.SDXL_SCHEDULER)
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    snr = torch.cumprod(1 - betas, 0) / (1 - torch.cumprod(1 - betas, 0))
    weight = torch.arange(1000, dtype=torch.float64) / 999
    expected = torch.exp(torch.log(snr) - weight * math.log(8.0))   # log-linear from SNR to SNR / 8
    shifted = scheduler.alphas_cumprod.double() / (1 - scheduler.alphas_cumprod.double())
    assert torch.allclose(shifted, expected, rtol=1e-3)
    assert scheduler.config.prediction_type == "epsilon" and not scheduler.config.clip_sample
    scheduler.set_timesteps(50)
    assert scheduler.timesteps.tolist() == list(range(981, 0, -20))


def test_the_reference_is_cropped_scaled_to_nine_tenths_and_centred_on_grey() -> None:
    picture = np.asarray(prepare_reference(red_cutout(), 64))
    assert picture.shape == (64, 64, 3)
    assert tuple(picture[0, 0]) == (127, 127, 127) and tuple(picture[32, 32]) == (200, 40, 30)
    rows, cols = np.nonzero(np.abs(picture.astype(int) - 127).sum(axis=2) > 30)
    # The 100 x 40 object (with the pixel of margin upstream keeps before it: 101 x 41) becomes 57 x 23, centred.
    assert 55 <= cols.max() - cols.min() + 1 <= 57 and 21 <= rows.max() - rows.min() + 1 <= 23
    assert abs((cols.min() + cols.max()) / 2 - 31.5) <= 1.5 and abs((rows.min() + rows.max()) / 2 - 31.5) <= 1.5
    with pytest.raises(ValueError, match="fully transparent"):
        prepare_reference(Image.new("RGBA", (32, 32)), 64)
    assert prepare_reference(Image.new("RGB", (30, 20), (9, 9, 9)), 64).size == (64, 64)


def test_control_maps_offset_positions_and_map_normals_to_colours() -> None:
    positions = torch.tensor([[[[0.25, -0.5, 0.0], [0.3, 0.3, 0.3]]]]).expand(6, 1, 2, 3)
    normals = torch.tensor([[[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]]).expand(6, 1, 2, 3)
    masks = torch.tensor([[[True, False]]]).expand(6, 1, 2)
    maps = control_maps(positions, normals, masks)
    assert maps.shape == (6, 6, 1, 2)
    assert maps[0, :, 0, 0].tolist() == [0.75, 0.0, 0.5, 0.5, 0.5, 1.0]
    assert maps[0, :, 0, 1].tolist() == [0.5] * 6   # the background: position 0, normal 0
    with pytest.raises(ValueError, match="views, height, width"):
        control_maps(positions, normals, masks[:, :, :1])


# ---------------------------------------------------------------------------------------------
# Six views, end to end
# ---------------------------------------------------------------------------------------------


def test_six_views_of_the_asked_size_in_seconds_and_the_same_for_a_seed(model) -> None:
    steps = []
    started = time.monotonic()
    views = generate_views(model, _controls(), red_cutout(), 7, FAST, on_step=lambda done, total: steps.append((done, total)))
    assert time.monotonic() - started < SECONDS, "a tiny six-view run should take seconds"
    assert len(views) == 6 and all(v.size == (64, 64) and v.mode == "RGB" for v in views)
    assert steps == [(1, 3), (2, 3), (3, 3)]
    again = generate_views(model, _controls(), red_cutout(), 7, FAST)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(views, again))
    other = generate_views(model, _controls(), red_cutout(), 8, FAST)
    assert not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(views, other))
    # The views differ from each other: each has its own control map and place in the attention.
    assert len({np.asarray(v).tobytes() for v in views}) == 6
    assert model.attention.mode is Pass.PLAIN and not model.attention.reference


def test_the_views_follow_the_control_maps_and_the_reference(model) -> None:
    base = [np.asarray(v, dtype=float) for v in generate_views(model, _controls(0), red_cutout(), 3, FAST)]
    moved = [np.asarray(v, dtype=float) for v in generate_views(model, _controls(1), red_cutout(), 3, FAST)]
    recoloured = red_cutout()
    recoloured.paste((20, 200, 230, 255), (50, 20, 150, 60))
    other = [np.asarray(v, dtype=float) for v in generate_views(model, _controls(0), recoloured, 3, FAST)]
    assert max(np.abs(a - b).max() for a, b in zip(base, moved)) > 1
    assert max(np.abs(a - b).max() for a, b in zip(base, other)) > 1


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_gives_the_float32_views_within_a_few_levels(model, root: Path, dtype: torch.dtype) -> None:
    # float16 is what a GPU runs; run on the CPU here, it takes the same dtype path through the model.
    settings = MultiviewSettings(steps=2, size=64)
    half = load_texture_model(texture_folders(root), "cpu", dtype)
    views = [np.asarray(v, dtype=float) for v in generate_views(half, _controls(), red_cutout(), 7, settings)]
    full = [np.asarray(v, dtype=float) for v in generate_views(model, _controls(), red_cutout(), 7, settings)]
    assert len(views) == 6 and all(v.shape == (64, 64, 3) for v in views)
    assert np.mean([np.abs(a - b).mean() for a, b in zip(views, full)]) < 3, "half precision strays from float32"


def test_bad_inputs_are_refused_in_one_sentence(model) -> None:
    with pytest.raises(ValueError, match=r"expected \(6, 6, 64, 64\)"):
        generate_views(model, _controls()[:5], red_cutout(), 1, FAST)
    with pytest.raises(ValueError, match="outside"):
        generate_views(model, _controls() * 2, red_cutout(), 1, FAST)
    with pytest.raises(ValueError, match="multiple of 32"):
        generate_views(model, _controls(size=48), red_cutout(), 1, MultiviewSettings(steps=1, size=48))
    with pytest.raises(ValueError, match="at least one step"):
        generate_views(model, _controls(), red_cutout(), 1, MultiviewSettings(steps=0, size=64))


def test_a_cancelled_run_stops_between_steps_and_leaves_the_model_clean(model) -> None:
    token = CancelToken()

    def cancel_after_first(done: int, total: int) -> None:
        token.cancel()

    with pytest.raises(ProtocolError) as caught:
        generate_views(model, _controls(), red_cutout(), 1, FAST, on_step=cancel_after_first, cancel=token)
    assert caught.value.code == ErrorCode.CANCELLED
    assert model.attention.mode is Pass.PLAIN and not model.attention.reference


def test_the_texture_model_runs_where_hy3dgen_cannot_be_imported(root: Path) -> None:
    script = f"""
import sys
sys.modules["hy3dgen"] = None   # any import of hy3dgen now fails
import torch
from PIL import Image
from img23d_backend.families.step1x.texture.generate import MultiviewSettings, generate_views
from img23d_backend.families.step1x.texture.loader import load_texture_model
from img23d_backend.families.step1x.texture_folders import TextureFolders
root = {str(root)!r}
folders = TextureFolders.from_snapshots(root + "/{replica.SDXL_FOLDER}", root + "/{replica.VAE_FOLDER}",
                                        root + "/{replica.STEP1X_FOLDER}")
model = load_texture_model(folders, "cpu", torch.float32)
image = Image.new("RGBA", (40, 40)); image.paste((9, 90, 9, 255), (10, 10, 30, 30))
views = generate_views(model, torch.full((6, 6, 64, 64), 0.5), image, 1, MultiviewSettings(steps=1, size=64))
assert not any(name.startswith("hy3dgen") for name in list(sys.modules) if sys.modules[name] is not None)
print("views", len(views))
"""
    env = {**os.environ, "PYTHONPATH": SOURCE_PYTHONPATH}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("views 6")
