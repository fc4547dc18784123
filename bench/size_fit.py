"""A part's seconds as it grows with a picture's size, fitted through two measured sizes and projected to
another: ``seconds = linear * x + square * x ** 2``, where x is what the part's work grows with (a
transformer call's joint tokens: its linear layers work per token, its attention per pair of tokens; a
VAE's pixels). No constant term: every operation of such a part is per token or per pixel.

Two sizes give the two coefficients exactly. On a shared CPU the two runs can see different speeds, which
can tip a coefficient below zero (a larger size measured as relatively cheaper); that coefficient is then
taken as zero and the other fitted through the larger size, the one nearer the sizes projected to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class SizeFit:
    """Seconds at a size ``x``: ``linear * x + square * x ** 2``."""

    linear: float
    square: float

    def seconds(self, x: float) -> float:
        return self.linear * x + self.square * x * x

    def figures(self) -> dict[str, float]:
        return {"linear_s": self.linear, "square_s": self.square}


def fit_sizes(points: Sequence[tuple[float, float]]) -> SizeFit:
    """The fit through two measured (x, seconds) ``points`` of different x (neither coefficient below
    zero: see the module's docstring); ValueError for any other number of points or equal sizes."""
    if len(points) != 2:
        raise ValueError(f"a fit of linear and square terms takes two measured sizes, not {len(points)}")
    (small, small_s), (large, large_s) = sorted(points)
    if not 0 < small < large:
        raise ValueError(f"the two measured sizes must differ and be above zero, not {small} and {large}")
    # seconds / x = linear + square * x: a straight line through the two points.
    square = (large_s / large - small_s / small) / (large - small)
    linear = small_s / small - square * small
    if square < 0:
        return SizeFit(large_s / large, 0.0)
    if linear < 0:
        return SizeFit(0.0, large_s / (large * large))
    return SizeFit(linear, square)
