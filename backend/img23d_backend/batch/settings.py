"""What a batch is asked to do (``BatchSettings``) and what it tells as it goes (``BatchEvent``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from img23d_protocol import JobOptions

from ..catalog import Models
from .limits import PICTURE_TIMEOUT, START_TIMEOUT
from .record import Entry, Same


@dataclass
class BatchSettings:
    inputs: list[str]
    out: Path
    names: Sequence[str] | str | None = None   # every picture's names, unless its list line gives its own
    options: JobOptions = field(default_factory=JobOptions)
    models: Models = field(default_factory=Models)
    workers: int | None = None                 # None: one per GPU (one on a CPU or an Apple GPU)
    ray_address: str | None = None             # None: embedded (processes on this machine)
    retry_failed: bool = False
    threads: int | None = None                 # torch threads per worker
    attempts: int = 3                          # tries per picture when its worker dies
    start_timeout: float = START_TIMEOUT       # a worker not started by then is given up
    picture_timeout: float = PICTURE_TIMEOUT   # a picture still running after this is stopped


@dataclass
class BatchEvent:
    kind: str                 # start, picture, retry, worker (one given up), summary
    entry: Entry | None = None
    index: int = -1
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""
    workers: int = 0
    same: list[Same] = field(default_factory=list)   # at the start: the pictures listed again, run once
    refused: int = 0          # at the start: a list's lines that fail as written (their own "picture" events follow)
