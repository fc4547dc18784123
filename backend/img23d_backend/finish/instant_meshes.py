"""Instant Meshes (``pynanoinstantmeshes``, BSD) run in a worker process of its own.

Why a process: the library prints its progress to stdout from C++ (``cout`` in its
``process_numpy.cpp``), and the backend's stdout is the JSON-lines protocol. The worker points its
file descriptor 1 at the null device before the library is imported, so nothing it prints can
reach the parent's stdout whoever started the parent (the server already moves fd 1 aside; the
CLI and batch only swap ``sys.stdout``, which C++ does not see). A process also makes the call
cancellable (the library has no way to stop it: the worker is killed) and survivable (a crash
in C++ ends the worker, not the job). Started with ``spawn``, as the UV unwrap's worker is: a
fork of a process holding torch and CUDA threads is not safe. It ends with the backend, however
the backend ends (``env.children``).

Settings, from the upstream command line's defaults (wjakob/instant-meshes, ``src/main.cpp``)
where the binding's differ: ``creaseAngle=-1`` (smooth normals, no creases: the binding's 0
marks every edge of a curved tessellated surface as a crease) and ``deterministic=True`` (the
same mesh in, the same quads out; ``retopo`` gives it the mesh in one canonical order, so that
any numbering of the same surface gives the same quads).

Memory: the worker's address space is bounded (``RLIMIT_AS``, ``memory_limit``) before the library
runs, so a mesh that drives it astray (issue 54: one 10^6 units from the origin took 23 GB, all
the machine had) ends the call with a ``MemoryError``, said as such, instead of the machine's memory.
The bound is generous for any mesh the finish is given: a base for the interpreter, numpy and one
malloc arena per thread, and a share per input face and per quad asked (measured: 130 MB resident
and 630 MB of address space for 40,000 faces at 5,000 quads).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
from multiprocessing.connection import Connection
from typing import Callable

import numpy as np

from ..env.children import end_with_parent
from ..env.job_control import CancelToken

POLL_SECONDS = 0.05     # how often the wait looks at the cancel token
KILL_WAIT_SECONDS = 5.0  # how long a killed worker may take to go

MEMORY_BASE = 2 << 30          # the interpreter, numpy and the library's code
MEMORY_PER_THREAD = 80 << 20   # a thread's stack and malloc arena (address space, mostly never touched)
MEMORY_PER_ITEM = 16 << 10     # per input face and per quad asked (about five times the measured use)

Remesher = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


class InstantMeshesFailed(RuntimeError):
    """Instant Meshes gave no result; the message says why in a few words (for the fallback's sentence)."""


def remesh_arrays(vertices: np.ndarray, faces: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Instant Meshes' pure-quad remesh aiming at ``vertex_count`` (see ``retopo`` for what it makes of it)."""
    import pynanoinstantmeshes

    out_v, out_f = pynanoinstantmeshes.remesh(np.ascontiguousarray(vertices, dtype=np.float32),
                                              np.ascontiguousarray(faces, dtype=np.uint32),
                                              vertex_count=int(vertex_count), creaseAngle=-1.0, deterministic=True)
    # Copies: the arrays the binding returns are read-only views.
    return np.array(out_v, dtype=np.float64), np.array(out_f, dtype=np.int64)


def memory_limit(faces: int, vertex_count: int) -> int:
    """The address space, in bytes, the worker may use for a mesh of ``faces`` faces asked for ``vertex_count``."""
    return MEMORY_BASE + (os.cpu_count() or 1) * MEMORY_PER_THREAD + MEMORY_PER_ITEM * (faces + 4 * vertex_count)


def _bound_memory(limit: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the worker's own, for its lifetime)


def _serve(conn: Connection, work: Remesher, limit: int) -> None:
    """The worker: silence fd 1, take (vertices, faces, vertex_count), bound its memory to ``limit``
    bytes, send ("ok", arrays), ("memory", limit) or ("error", why)."""
    end_with_parent()
    _silence_stdout()
    try:
        vertices, faces, vertex_count = conn.recv()
        _bound_memory(limit)
        reply = ("ok", work(vertices, faces, vertex_count))
    except MemoryError:
        reply = ("memory", f"{limit / (1 << 30):.1f} GB")
    except Exception as exc:  # noqa: BLE001 (whatever the library raises is sent back as the reason)
        reply = ("error", f"{type(exc).__name__}: {exc}")
    conn.send(reply)
    conn.close()


def remesh_in_worker(vertices: np.ndarray, faces: np.ndarray, vertex_count: int,
                     cancel: CancelToken | None = None, work: Remesher | None = None,
                     limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Instant Meshes' (vertices, quads) from a worker process whose memory is bounded to ``limit``
    bytes (default ``memory_limit``); ``InstantMeshesFailed`` when it raised, ran out of that memory,
    could not start or died; the token's error (the worker killed) when cancelled."""
    work = work or remesh_arrays  # looked up at call time, so a test can put another in its place
    limit = limit or memory_limit(len(faces), int(vertex_count))
    context = multiprocessing.get_context("spawn")
    # The arrays go over this pipe once the worker runs, not as the process's arguments: the
    # interpreter writes those to the new process before its start returns, and a worker that dies
    # while starting would leave that write (of more than a pipe's buffer) blocked for ever.
    here, there = context.Pipe(duplex=True)
    process = context.Process(target=_serve, name="img23d-instant-meshes", args=(there, work, limit))
    try:
        process.start()
    except OSError as exc:
        here.close()
        there.close()
        raise InstantMeshesFailed(f"Instant Meshes' worker could not start ({exc})") from exc
    there.close()  # only the worker's end is left: its death reads as end-of-file here
    try:
        try:
            here.send((np.ascontiguousarray(vertices), np.ascontiguousarray(faces), int(vertex_count)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker is gone: the wait below reads its end and says so
        while True:
            if cancel is not None and cancel.cancelled:
                process.kill()
                cancel.check()
            if here.poll(POLL_SECONDS):
                try:
                    status, payload = here.recv()
                except (EOFError, ConnectionResetError):
                    break
                if status == "ok":
                    return payload
                if status == "memory":
                    raise InstantMeshesFailed(f"Instant Meshes ran out of the {payload} of memory its worker may use")
                raise InstantMeshesFailed(f"Instant Meshes raised {payload}")
    finally:
        here.close()
        process.join(KILL_WAIT_SECONDS)
        if process.is_alive():
            process.kill()
            process.join(KILL_WAIT_SECONDS)
    raise InstantMeshesFailed(f"Instant Meshes' worker died (exit code {process.exitcode})")
