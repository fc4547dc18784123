"""Farthest-point sampling replayed as CUDA graphs (``neural.point_sampling``): where a capture cannot be made
(here: no CUDA) the steps run one by one, to the same indices, said in one warning. The replay itself needs a
GPU (``bench/parts_rig_gpu.py`` runs it on a lent one)."""

from __future__ import annotations

import logging

import torch

from img23d_backend.neural.point_sampling import GRAPH_STEPS, farthest_points


def test_graphs_asked_where_none_can_be_captured_give_the_same_indices_and_say_so(caplog) -> None:
    points = torch.rand((3_000, 3), generator=torch.Generator().manual_seed(2))
    count = 2 * GRAPH_STEPS + 17     # two blocks and a remainder
    one_by_one = farthest_points(points, count, torch.Generator().manual_seed(9), graphs=False)
    with caplog.at_level(logging.WARNING):
        asked = farthest_points(points, count, torch.Generator().manual_seed(9), graphs=True)
    assert torch.equal(asked, one_by_one)
    assert len(set(one_by_one.tolist())) == count
    assert "could not be captured as a CUDA graph" in caplog.text


def test_on_a_cpu_no_graph_is_tried(caplog) -> None:
    points = torch.rand((2_000, 3), generator=torch.Generator().manual_seed(4))
    with caplog.at_level(logging.WARNING):
        farthest_points(points, 2 * GRAPH_STEPS, torch.Generator().manual_seed(1))
    assert "CUDA graph" not in caplog.text
