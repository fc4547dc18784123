"""bench/size_fit.py, the fit bench/text_picture.py projects a picture's seconds to the product's size with, on
points whose answer is known: a part's seconds made of known linear and square terms is found again and
projected exactly; two runs at different speeds that tip a term below zero keep the other, fitted through the
larger size; anything but two different sizes refused."""

from __future__ import annotations

import sys

import pytest

from testdata import REPO

sys.path.insert(0, str(REPO / "bench"))

from size_fit import SizeFit, fit_sizes  # noqa: E402  (bench/size_fit.py)


def test_two_sizes_give_the_terms_back_and_project_exactly() -> None:
    # 2 s a token and 3 s a pair of tokens: 1 token costs 5 s, 2 tokens 16 s, 10 tokens 320 s.
    fit = fit_sizes([(2.0, 16.0), (1.0, 5.0)])  # in either order
    assert fit.linear == pytest.approx(2.0) and fit.square == pytest.approx(3.0)
    assert fit.seconds(10.0) == pytest.approx(320.0)


def test_a_term_tipped_below_zero_is_zero_and_the_other_fits_the_larger_size() -> None:
    # 5 s at 1, 8 s at 2 (per x: 5 then 4) would need a negative square term: linear only, 4 s an x from 2.
    assert fit_sizes([(1.0, 5.0), (2.0, 8.0)]) == SizeFit(4.0, 0.0)
    # 1 s at 1, 8 s at 2 would need a negative linear term: square only, 2 s an x squared from 2.
    assert fit_sizes([(1.0, 1.0), (2.0, 8.0)]) == SizeFit(0.0, 2.0)


@pytest.mark.parametrize("points", [[(1.0, 1.0)], [(1.0, 1.0), (1.0, 2.0)], [(0.0, 1.0), (2.0, 2.0)],
                                    [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]])
def test_anything_but_two_different_sizes_is_refused(points: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError):
        fit_sizes(points)
