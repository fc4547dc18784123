"""What the driver asks of a pool of workers, wherever they run (``local``, ``ray_pool``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .work import WorkItem, WorkResult


@dataclass
class WorkerLost:
    """The worker died (killed, out of memory, its node gone) before its picture's result came back."""

    worker: str
    message: str


class Pool(Protocol):
    def live(self) -> list[int]:
        """The workers that can still take pictures."""

    def idle(self) -> list[int]:
        """The live workers with no picture."""

    def name(self, worker: int) -> str:
        """A worker's slot, for the record (``ray-0``, ``local-1``): a restarted worker keeps its slot."""

    def submit(self, worker: int, item: WorkItem) -> None:
        """Hand ``item`` to an idle ``worker``."""

    def wait(self, timeout: float) -> list[tuple[int, WorkResult | WorkerLost]]:
        """The pictures that ended within ``timeout`` seconds (perhaps none)."""

    def cancel(self) -> None:
        """Ask every running picture to stop (its run's manifest then says cancelled)."""

    def close(self) -> None:
        """Stop every worker this pool started."""
