"""What the driver asks of a pool of workers, wherever they run (``local``, ``ray_pool``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .items import WorkItem, WorkResult


@dataclass
class WorkerLost:
    """The worker died (killed, out of memory, its node gone) before its picture's result came back."""

    worker: str
    message: str


DISTINCT_DEATHS = 3   # different pictures in a row that kill their worker: the worker, not the pictures, is at fault


class DeathWatch:
    """Whose a worker's death is. One during a picture is the picture's, bounded by its own --attempts (counted
    against the pool, one picture that killed its worker every time used up every restart and the rest failed
    untried), until ``DISTINCT_DEATHS`` different pictures in a row have died with none made between: then, and
    for a death outside a picture, the worker's, counted against its restarts (else a worker that cannot load its
    models was started again for every try of every picture)."""

    def __init__(self) -> None:
        self._dying: set[int] = set()   # the pictures that died since one was made

    def counts(self, picture: int | None) -> bool:
        """A death during ``picture`` (None: outside one): whether it counts against the worker's restarts."""
        if picture is None:
            return True
        self._dying.add(picture)
        return len(self._dying) >= DISTINCT_DEATHS

    def made(self) -> None:
        """A picture came back: the workers can make pictures."""
        self._dying.clear()


class Pool(Protocol):
    def live(self) -> list[int]:
        """The workers that can still take pictures, now or once they have started."""

    def idle(self) -> list[int]:
        """The live workers that have started and have no picture."""

    def starting(self) -> dict[int, float]:
        """The live workers not (yet, or again) able to take a picture: since when (``time.monotonic``)."""

    def name(self, worker: int) -> str:
        """A worker's slot, for the record (``ray-0``, ``local-1``): a restarted worker keeps its slot."""

    def submit(self, worker: int, item: WorkItem) -> None:
        """Hand ``item`` to an idle ``worker``."""

    def wait(self, timeout: float) -> list[tuple[int, WorkResult | WorkerLost]]:
        """The pictures that ended within ``timeout`` seconds (perhaps none)."""

    def interrupt(self, worker: int) -> None:
        """Stop ``worker``'s picture by ending the worker (restarted where it may be): nothing of that
        picture comes back from ``wait``."""

    def give_up(self, worker: int, reason: str) -> None:
        """Stop a worker for good (it never started): it is no longer live."""

    def gone_reason(self) -> str | None:
        """Why the last worker lost for good was lost (for "no worker left"), if known."""

    def cancel(self) -> None:
        """Ask every running picture to stop (its run's manifest then says cancelled)."""

    def close(self) -> None:
        """Stop every worker this pool started."""
