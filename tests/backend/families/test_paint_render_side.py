"""The side of the renders a painted object's views are baked from (``paint_step.render_side``): Hunyuan3D-Paint's
512 px views from 2048 px renders as before, the tiny replicas' 64 px views from 256 px ones (they were baked
from 2048, each view upsampled 32 times: most of a tiny textured object's minutes on a CPU), and a job's own
render size as it asks."""

from __future__ import annotations

from img23d_protocol import JobOptions

from img23d_backend.families.hunyuan3d.paint_step import render_side


def test_the_real_models_views_are_baked_from_renders_of_the_detailed_size() -> None:
    assert render_side(JobOptions(), 512) == 2048
    assert render_side(JobOptions(texture_size=1024), 512) == 1024
    assert render_side(JobOptions(texture_size=4096), 512) == 2048


def test_small_views_are_baked_from_renders_four_times_their_side() -> None:
    assert render_side(JobOptions(), 64) == 256
    assert render_side(JobOptions(texture_size=128), 64) == 128


def test_a_render_size_the_job_gives_is_kept() -> None:
    assert render_side(JobOptions(render_size=2048), 64) == 2048
    assert render_side(JobOptions(render_size=1000), 512) == 512   # whole multiples of the view's side
