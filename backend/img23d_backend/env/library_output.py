"""What the model libraries print on their own that says nothing to an artist, kept out of the terminal and the
backend's log: diffusers (0.3x) warns "There are modules in <model> that should be kept in float32: []" on every
cast of a model to a dtype, even when the list is empty (nothing to keep), five lines a textured job; and its
"Loading pipeline components..." bar, where a job's own progress says what loads.

A warning with a module in that list still shows: it would mean a cast that loses precision.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

EMPTY_FLOAT32_LIST = "that should be kept in float32: []."
DIFFUSERS_MODEL_LOGGER = "diffusers.models.modeling_utils"   # where that warning is logged


class _NoEmptyFloat32List(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return EMPTY_FLOAT32_LIST not in record.getMessage()


_FILTER = _NoEmptyFloat32List()


def quiet_empty_warnings() -> None:
    """Drop diffusers' float32 warning where its list is empty (any number of calls: one filter). It needs no
    import of diffusers: its loggers are the standard library's, by module name."""
    logger = logging.getLogger(DIFFUSERS_MODEL_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


@contextmanager
def no_loading_bar() -> Iterator[None]:
    """Within it, diffusers' pipelines load without their progress bar (its switch is global: put back after)."""
    from diffusers.utils import logging as diffusers_logging

    was = diffusers_logging.is_progress_bar_enabled()
    diffusers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            diffusers_logging.enable_progress_bar()
