"""Farthest-point sampling written in torch (no fpsample, no torch_cluster, no compiled extension).

AutoPartGen's VAE takes its latent queries this way (from a start drawn at random), and so does its
surface cloud; SkinTokens thins its random queries this way (from the first). Distances are squared
Euclidean in float32; of equal maxima the first index is taken (``torch.argmax``'s rule).
"""

from __future__ import annotations

import torch


def farthest_points(points: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices [count] of a farthest-point sample of ``points`` [P, 3] on their device: from a start drawn
    with ``generator`` (index 0 without one), each next point the one farthest from those taken. ``count``
    of ``P`` or more gives every index in order."""
    total = points.shape[0]
    if count >= total:
        return torch.arange(total, device=points.device)
    xyz = points.float()
    chosen = torch.empty(count, dtype=torch.long, device=points.device)
    start = 0 if generator is None else int(torch.randint(total, (1,), generator=generator))
    nearest = torch.full((total,), float("inf"), device=points.device)
    # The current index stays a tensor on the points' device: on a GPU no step waits for the host (the
    # release's history re-encoding took 14.7 s a part on a 16-core CPU; a Python int here would copy
    # each step's index back, 32,768 times).
    current = torch.tensor(start, device=points.device)
    for step in range(count):
        chosen[step] = current
        # One row of distances per step keeps memory at O(P): the whole matrix would be P x count.
        nearest = torch.minimum(nearest, (xyz - xyz[current]).square().sum(dim=-1))
        current = torch.argmax(nearest)
    return chosen
