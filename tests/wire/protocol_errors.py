"""What the wire tests read from a refusal: the code of the ProtocolError raised."""

from __future__ import annotations

import pytest
from img23d_protocol import ErrorCode


def _code(excinfo: pytest.ExceptionInfo) -> ErrorCode:
    return excinfo.value.code
