"""One seed per replica component, without disturbing the caller's random state.

Shared by the tiny replicas' builders (build, hunyuan_paint), so neither imports the other
for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch for one component without disturbing the caller's RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
