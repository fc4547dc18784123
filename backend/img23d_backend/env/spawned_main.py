"""A script re-imported by a worker process: refused in one sentence, not run again in every worker.

img23d's workers (the batch's, the UV unwrap's, Instant Meshes') start with multiprocessing's "spawn",
which imports the parent's main script again in each child under the name ``__mp_main__``. A script
that calls the API at its top level, as a quick one does, then ran its whole job again inside every
worker: a batch came back "cancelled" with nothing made, a session's jobs ran three times and its
quads fell back to triangles. The API's entry points call ``refuse_in_spawned_main`` first.
"""

from __future__ import annotations

import sys

from img23d_protocol import ErrorCode, ProtocolError

SPAWNED_MAIN = "__mp_main__"   # the name spawn gives the parent's script in a child


def refuse_in_spawned_main(what: str) -> None:
    """``bad_request`` when ``what`` is called from the top level of a script a spawned worker is importing."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == SPAWNED_MAIN:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} was called at the top level of a script that "
                                "img23d's worker processes import again (they start with spawn): put the "
                                "script's calls under `if __name__ == \"__main__\":`")
        frame = frame.f_back
