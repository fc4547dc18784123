"""``python -m img23d_backend serve``: the JSON-lines service the Blender add-on spawns (``service.server``).

Its stdout is the protocol's alone: fd 1 and ``sys.stdout`` point at stderr from the first line on, so that no
stray print or C library corrupts the stream, and the protocol writes to a private copy of the real stdout. A
start-up that fails (a bad argument, a broken environment) is said there too, as one ``error`` line, so the add-on
shows the sentence instead of "crashed". The engine (and torch) is imported only once the arguments are checked;
the server's loop catches the signals from then on.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import Callable

from img23d_protocol import Error, ErrorCode, ProtocolError

from ..catalog import ROLES
from ..env.children import end_children
from ..env.interrupts import raise_on_signals
from ..models import env_probe
from .options import EXIT_FAILED, check_common, failure_code
from .progress import log_to_stderr


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
               common: Callable[[argparse.ArgumentParser], None]) -> None:
    srv = sub.add_parser("serve", help="JSON-lines service on stdin/stdout (what Blender runs)")
    common(srv)
    srv.add_argument("--client-timeout", type=float, default=0.0, metavar="SECONDS",
                     help="end as if stdin closed when nothing (not even an empty keep-alive line) has come for "
                          "this long; the add-on sets it for a backend over SSH, whose lost client may keep stdin "
                          "open (0: never)")
    srv.add_argument("--preload", default="",
                     help='comma-separated models to load right after hello, e.g. "grounding,matting,shape" '
                          '("default": those three); the heavy imports happen then anyway')
    srv.add_argument("--warm-up", action="store_true",
                     help="after loading, run one small job on a made-up picture so the first real job does not pay "
                          "for kernels and caches; jobs sent meanwhile wait for it (its seconds: the log, status)")


def preload_roles(text: str) -> tuple[str, ...]:
    """``--preload``'s roles: the names given, or every role for "default"."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    return tuple(ROLES) if names == ["default"] else tuple(names)


def run(args: argparse.Namespace) -> int:
    """Serve until stdin closes, a shutdown request or a signal; the process ends here (``os._exit``)."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = io.TextIOWrapper(os.fdopen(protocol_fd, "wb", buffering=0), encoding="utf-8", newline="\n",
                           write_through=True)
    log_to_stderr(args.verbose, prefix="img23d-backend ")
    from ..env import failpoints

    try:
        failpoints.hit("startup")
        check_common(args)
        from ..service.server import Server
        from ..session import Models, make_engine
        # Only what every backend needs before its hello: each model's own probes run before its first load.
        engine = make_engine(Models.from_args(args), args.out, env_probe.GENERAL)
    except ProtocolError as exc:
        _say(out, exc)
        return failure_code(exc)
    except ImportError as exc:  # a broken or incomplete environment: name what is missing
        missing = getattr(exc, "name", None) or str(exc)
        _say(out, ProtocolError(ErrorCode.BACKEND_UNAVAILABLE, f"the backend's Python environment is missing "
                                f"{missing!r}: run 'Install backend' again (it repairs the environment)", str(exc)))
        return EXIT_FAILED
    raise_on_signals()  # only now: the server's loop is what catches them
    try:
        code = Server(engine, sys.stdin.buffer, out, preload=preload_roles(args.preload),
                      client_timeout=args.client_timeout, warm_up=args.warm_up).serve()
    finally:  # a fatal error too: the job's workers (the UV unwrap's) never outlive the service
        end_children()
    out.flush()
    # Worker threads may sit inside a torch op; the job was cancelled and its manifest written.
    os._exit(code)


def _say(out: io.TextIOWrapper, exc: ProtocolError) -> None:
    """A start-up's failure on the protocol channel, one ``error`` line."""
    out.write(Error.from_exception(None, exc).to_line() + "\n")
    out.flush()


__all__ = ["add_parser", "preload_roles", "run"]
