"""The shape step's settings for a retry after running out of memory (``ShapeSettings.lowered``)."""

from __future__ import annotations

import pytest

from img23d_backend.mesh.shapes import MIN_CHUNK, ShapeSettings


@pytest.mark.parametrize("octree, retried", [(16, 16), (24, 16), (32, 16), (48, 24), (256, 128), (1024, 512)])
def test_a_retry_halves_the_octree_and_never_raises_it(octree: int, retried: int) -> None:
    """A floor of 32 ran the retry the log calls "at lower settings" at twice an octree of 16."""
    lowered = ShapeSettings(steps=5, octree_resolution=octree, guidance_scale=5.0, batch_size=4).lowered()
    assert (lowered.octree_resolution, lowered.batch_size, lowered.num_chunks) == (retried, 1, MIN_CHUNK)
