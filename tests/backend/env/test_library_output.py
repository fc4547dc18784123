"""What the model libraries print that says nothing is kept out of the terminal (``env.library_output``): diffusers'
float32 warning of an empty list goes, one naming a module stays; its pipelines' loading bar is off while a
pipeline loads and as it was after."""

from __future__ import annotations

import logging

import pytest

from img23d_backend.env import library_output
from img23d_backend.env.library_output import DIFFUSERS_MODEL_LOGGER, no_loading_bar, quiet_empty_warnings


def test_diffusers_float32_warning_of_an_empty_list_is_dropped_and_one_naming_a_module_kept(
        caplog: pytest.LogCaptureFixture) -> None:
    quiet_empty_warnings()
    quiet_empty_warnings()   # once is enough: a second call adds no second filter
    logger = logging.getLogger(DIFFUSERS_MODEL_LOGGER)
    # diffusers adds a filter of its own to its loggers once it is imported: only img23d's are counted.
    assert [type(f).__module__ for f in logger.filters].count(library_output.__name__) == 1
    with caplog.at_level(logging.WARNING, logger=DIFFUSERS_MODEL_LOGGER):
        for kept in ("[]", "['norm_out']"):
            logger.warning("There are modules in AutoencoderKL that should be kept in float32: %s. Casting directly "
                           "with `to()` can lead to inconsistent results", kept)
    assert [r.getMessage().split(": ")[1][:13] for r in caplog.records] == ["['norm_out']."]


@pytest.mark.parametrize("enabled", [True, False])
def test_a_pipeline_loads_without_diffusers_bar_and_the_switch_is_put_back(enabled: bool) -> None:
    from diffusers.utils import logging as diffusers_logging

    (diffusers_logging.enable_progress_bar if enabled else diffusers_logging.disable_progress_bar)()
    try:
        with no_loading_bar():
            assert not diffusers_logging.is_progress_bar_enabled()
        assert diffusers_logging.is_progress_bar_enabled() is enabled
    finally:
        diffusers_logging.enable_progress_bar()
