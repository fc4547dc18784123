"""Makes a benchmark script run from a checkout (``python bench/NAME.py``): this checkout's backend and
protocol packages on ``sys.path`` and the model hub offline. A script imports it before any
``img23d_backend`` import (``import source_paths``, or ``from source_paths import REPO`` for the checkout's root)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for source in ("backend", "protocol"):
    if str(REPO / source) not in sys.path:
        sys.path.insert(0, str(REPO / source))
# Replicas and full-size models are local folders: a benchmark never waits on (or counts) a download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
