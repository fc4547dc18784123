"""Farthest-point sampling written in torch (no fpsample, no torch_cluster, no compiled extension).

AutoPartGen's VAE takes its latent queries this way (from a start drawn at random), and so does its
surface cloud; SkinTokens thins its random queries this way (from the first). Distances are squared
Euclidean in float32; of equal maxima the first index is taken (``torch.argmax``'s rule).

A step is seven small kernels, and a part's history takes 34,816 steps: on a CUDA GPU each launch costs more
than its work, so there the steps run as a CUDA graph of ``GRAPH_STEPS`` steps replayed block after block
(the same operations on the same tensors, so the same indices); where a capture fails the steps run one by one.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

GRAPH_STEPS = 256   # steps captured in one CUDA graph: 1,792 kernels, replayed with one launch


def farthest_points(points: torch.Tensor, count: int, generator: torch.Generator | None = None,
                    graphs: bool | None = None) -> torch.Tensor:
    """Indices [count] of a farthest-point sample of ``points`` [P, 3] on their device: from a start drawn
    with ``generator`` (index 0 without one), each next point the one farthest from those taken. ``count``
    of ``P`` or more gives every index in order. ``graphs``: replay the steps as CUDA graphs (by default on
    a CUDA device when there are at least two blocks of them)."""
    total = points.shape[0]
    if count >= total:
        return torch.arange(total, device=points.device)
    xyz = points.float()
    start = 0 if generator is None else int(torch.randint(total, (1,), generator=generator))
    if graphs is None:
        graphs = xyz.device.type == "cuda" and count >= 2 * GRAPH_STEPS
    if graphs:
        try:
            return _replayed(xyz, count, start)
        except (RuntimeError, ValueError) as error:   # no capture here; ValueError: asked off a CUDA device
            log.warning("farthest-point sampling could not be captured as a CUDA graph (%s): it runs step by step",
                        str(error).splitlines()[0] if str(error) else type(error).__name__)
    chosen, nearest, current = _state(xyz, count, start)
    _steps(xyz, nearest, current, chosen, count)
    return chosen


def _state(xyz: torch.Tensor, count: int, start: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # The current index stays a tensor on the points' device: on a GPU no step waits for the host (the
    # release's history re-encoding took 14.7 s a part on a 16-core CPU; a Python int here would copy
    # each step's index back, 32,768 times).
    return (torch.empty(count, dtype=torch.long, device=xyz.device),
            torch.full((xyz.shape[0],), float("inf"), device=xyz.device),
            torch.tensor(start, device=xyz.device))


def _steps(xyz: torch.Tensor, nearest: torch.Tensor, current: torch.Tensor, chosen: torch.Tensor, count: int) -> None:
    """``count`` steps into ``chosen[:count]``, each tensor updated in place (what a CUDA graph replays)."""
    at = current.view(1)
    for step in range(count):
        chosen[step].copy_(current)
        # One row of distances per step keeps memory at O(P): the whole matrix would be P x count. The point is
        # taken with ``index_select``: indexing with a 0-d tensor (``xyz[current]``) reads its value on the host,
        # a wait for the GPU every step (and no capture).
        torch.minimum(nearest, (xyz - xyz.index_select(0, at)).square().sum(dim=-1), out=nearest)
        current.copy_(torch.argmax(nearest))


def _replayed(xyz: torch.Tensor, count: int, start: int) -> torch.Tensor:
    chosen, nearest, current = _state(xyz, count, start)
    block = torch.empty(GRAPH_STEPS, dtype=torch.long, device=xyz.device)
    # A warm-up on a side stream, as torch asks before a capture, on copies: the capture itself runs nothing.
    stream = torch.cuda.Stream(device=xyz.device)
    stream.wait_stream(torch.cuda.current_stream(xyz.device))
    with torch.cuda.stream(stream):
        _steps(xyz, nearest.clone(), current.clone(), block.clone(), 3)
    torch.cuda.current_stream(xyz.device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        _steps(xyz, nearest, current, block, GRAPH_STEPS)
    done = 0
    while count - done >= GRAPH_STEPS:
        graph.replay()
        chosen[done:done + GRAPH_STEPS].copy_(block)
        done += GRAPH_STEPS
    _steps(xyz, nearest, current, chosen[done:], count - done)
    return chosen
