"""How the session tells a hung or flooding backend from a busy one. No bpy here.

The silence watchdog: while the backend owes an answer (a job, a quick request, a run being brought
here), only messages that answer it count as progress; garbage lines and messages for nothing that
was asked do not, so a backend that chatters while its job hangs is still stopped in time. The
flood guard: more than ``UNSOLICITED_LIMIT`` messages in a row that answer nothing (between jobs an
honest backend sends none) and the backend is dropped, not buffered.
"""

from __future__ import annotations

import time
from typing import Callable

# Messages nobody asked for, in a row, that a backend may send before it is taken for a flood.
UNSOLICITED_LIMIT = 500


class Watch:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_progress = clock()   # when an outstanding request last made progress
        self.unsolicited = 0           # messages in a row that answered nothing

    def asking(self, outstanding_before: bool) -> None:
        """A request goes out: the clock starts now if nothing was outstanding; what the backend
        said unasked so far is forgiven."""
        if not outstanding_before:
            self.last_progress = self._clock()
        self.unsolicited = 0

    def heard(self, answers_something: bool) -> bool:
        """One message; True when the backend has now sent more than the limit unasked."""
        if answers_something:
            self.last_progress, self.unsolicited = self._clock(), 0
            return False
        self.unsolicited += 1
        return self.unsolicited > UNSOLICITED_LIMIT

    def silent_for(self) -> float:
        return self._clock() - self.last_progress
