"""The queue between the reader thread and Blender's main thread, bounded in messages and bytes.

Whatever the backend (or a host pretending to be one) prints, the add-on holds at most
``max_items`` messages and ``max_bytes`` of their lines: past that the reader thread waits until
the main thread has taken some, so the backend's own writes block (the pipe and, over SSH, the
connection fill up) instead of Blender's memory growing. What the session does with a flood it
did not ask for is its own business (``session.BackendSession`` drops such a backend); this
module only keeps the bound. No bpy here.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any

MAX_ITEMS = 2000
MAX_BYTES = 32 << 20   # about 45 file chunks of 700 kB: a transfer flows, a flood waits


class EventQueue:
    """A FIFO whose ``put`` waits for room; ``end`` adds the last item whatever the bound."""

    def __init__(self, max_items: int = MAX_ITEMS, max_bytes: int = MAX_BYTES) -> None:
        self.max_items, self.max_bytes = max_items, max_bytes
        self._items: deque[tuple[Any, int]] = deque()
        self._bytes = 0
        self._closed = False
        self._room = threading.Condition()
        self.most_held = 0          # the largest number of messages held at once (tests read it)
        self.most_bytes = 0

    def put(self, item: Any, size: int = 0) -> bool:
        """Queue ``item`` (its line was ``size`` bytes), waiting for room; False once the queue is
        closed (the backend is being stopped: nobody will read it)."""
        with self._room:
            while not self._closed and self._items and (len(self._items) >= self.max_items
                                                        or self._bytes + size > self.max_bytes):
                self._room.wait(timeout=1.0)
            if self._closed:
                return False
            self._add(item, size)
            return True

    def end(self, item: Any) -> None:
        """The reader's last word (the backend exited): queued even when the queue is full."""
        with self._room:
            self._add(item, 0)

    def close(self) -> None:
        """Nobody reads any more: a reader waiting for room gives up."""
        with self._room:
            self._closed = True
            self._room.notify_all()

    def get_nowait(self) -> Any:
        """The oldest item; ``queue.Empty`` when there is none (as ``queue.Queue`` says it)."""
        with self._room:
            if not self._items:
                raise queue.Empty
            item, size = self._items.popleft()
            self._bytes -= size
            self._room.notify_all()
            return item

    def qsize(self) -> int:
        with self._room:
            return len(self._items)

    def _add(self, item: Any, size: int) -> None:
        self._items.append((item, size))
        self._bytes += size
        self.most_held = max(self.most_held, len(self._items))
        self.most_bytes = max(self.most_bytes, self._bytes)
