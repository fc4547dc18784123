"""``python -m img23d_backend batch INPUT... --out DIR``: the batch command's flags and its run.

Exit codes: 0 every picture done (or done before), 3 some failed, 1 the batch could not run
(another batch holds the folder, the disk is full), 2 the command line or an input was wrong,
130/143/129 cancelled by Ctrl-C/SIGTERM/a hang-up (``batch.json`` and the running pictures' manifests say
``cancelled``; running the command again goes on).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Callable

from img23d_protocol import ErrorCode, ProtocolError, check_budget_gb

from ..batch.inputs import read_inputs
from ..batch.limits import PICTURE_TIMEOUT, START_TIMEOUT
from ..batch.record import close_record_file
from ..catalog import Models, model_set
from ..env.interrupts import Interrupts, exit_code
from ..models.hub import offline_requested
from ..models.memory_cap import check_cap_gb
from .options import EXIT_OK, EXIT_PARTIAL, add_job_options, job_options, said_failure
from .picture_terms import picture_terms
from .progress import log_to_stderr

GRACE_SECONDS = 90.0  # after Ctrl-C: the driver itself gives the running pictures 60 s to close


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
               common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("batch", help="many pictures -> one run folder each, resumable; here or on a Ray cluster",
                       description="Generate from every picture of the INPUTs (pictures, folders of pictures, "
                                   "JSONL/CSV lists with a picture and its names per line). Pictures already done "
                                   "with the same options are skipped; OUT/batch.json says what became of each.")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--targets", default="", help="names for every picture (a list line's own names win); empty: "
                                                 "the whole picture; 'auto': the names the grounding model suggests")
    common(p)
    add_job_options(p)
    where = p.add_argument_group("where it runs")
    where.add_argument("--ray", metavar="ADDRESS", default=None,
                       help="an existing Ray cluster (HOST:PORT, or 'auto'): one actor per GPU, files come back "
                            "through Ray; without it: one worker process per GPU here (one on a CPU)")
    where.add_argument("--workers", type=int, default=None, help="how many workers (default: one per GPU, else 1)")
    where.add_argument("--worker-threads", type=int, default=None, help="CPU threads per worker (default: torch's)")
    p.add_argument("--retry-failed", action="store_true", help="run again the pictures that failed last time")
    p.add_argument("--attempts", type=int, default=3,
                   help="tries per picture when its worker dies (killed, out of memory) (default %(default)s)")
    p.add_argument("--picture-timeout", type=float, default=PICTURE_TIMEOUT, metavar="SECONDS",
                   help="a picture still running after this long is stopped and tried once more on another "
                        "worker, then failed (default %(default)g)")
    p.add_argument("--worker-start-timeout", type=float, default=START_TIMEOUT, metavar="SECONDS",
                   help="a worker that has not started after this long (no room on the cluster, its node gone) "
                        "is given up; its pictures go to the others (default %(default)g)")
    p.add_argument("--json", action="store_true", help="one JSON object per event on stdout, for machines")


def run(args: argparse.Namespace) -> int:
    log_to_stderr(args.verbose)
    with Interrupts(grace=GRACE_SECONDS) as interrupts:
        return _run(args, interrupts)


def _run(args: argparse.Namespace, interrupts: Interrupts) -> int:
    try:
        check_budget_gb(args.budget_gb)
        check_cap_gb(args.memory_cap_gb)   # before the workers: each refused it alone, for every line
        options = job_options(args)
        for flag, value in (("--workers", args.workers), ("--worker-threads", args.worker_threads),
                            ("--attempts", args.attempts)):
            if value is not None and value < 1:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{flag} must be 1 or more, not {value}")
        for flag, seconds in (("--picture-timeout", args.picture_timeout),
                              ("--worker-start-timeout", args.worker_start_timeout)):
            if not seconds > 0:  # also NaN
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{flag} must be more than 0 seconds, not {seconds:g}")
        if args.box:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "--box names a box in one picture: a batch cannot take it")
        if args.ray is not None and not args.ray.strip():
            raise ProtocolError(ErrorCode.BAD_REQUEST, "--ray needs the cluster's address (HOST:PORT, or 'auto')")
        if args.ray:
            from ..batch.ray_pool import import_ray

            import_ray()  # before anything else: without Ray, one sentence on how to install it
        from ..batch.driver import batch
        from ..batch.preflight import check_before_start
        from ..batch.progress import BatchPrinter

        models = Models.from_args(args)
        printer = BatchPrinter(sys.stdout, sys.stderr, as_json=args.json)
        # A list's prompt lines: their picture's model, licence and download said once, before the batch starts,
        # as generate --prompt says them (stdout is the machines' with --json: then on stderr).
        items = read_inputs(args.inputs)
        check_before_start(items, options, models)   # before the terms: a batch that cannot start says only why
        if any(item.prompt and not item.problem for item in items):
            chosen = model_set(models.models, grounding=models.grounding, matting=models.matting, shape=models.shape,
                               paint=models.paint, family=models.family, editor=models.editor)
            print(picture_terms(chosen, models.offline or offline_requested()), file=sys.stderr if args.json else
                  sys.stdout, flush=True)
        # A second Ctrl-C ends the process at once: batch.json still closes (the workers' pictures
        # close their own manifests as their pipes or their driver go).
        interrupts.abandon = lambda reason: close_record_file(args.out.expanduser(), reason)
        # stdout is the printer's alone (--json is for machines): Ray prints its workers' deaths
        # and libraries their chatter to sys.stdout, which goes to stderr while the batch runs.
        sys.stdout = sys.stderr
        report = batch(list(args.inputs), out=args.out, names=args.targets, options=options, models=models,
                       workers=args.workers, ray_address=args.ray, retry_failed=args.retry_failed,
                       threads=args.worker_threads, attempts=args.attempts,
                       picture_timeout=args.picture_timeout, start_timeout=args.worker_start_timeout,
                       cancel=interrupts.token, on_event=printer)
    except ProtocolError as exc:
        return said_failure(exc)
    finally:
        sys.stdout = sys.__stdout__
    printer.summary(report)
    if report.status == "cancelled":
        return exit_code(interrupts.signal or signal.SIGINT)
    return EXIT_PARTIAL if report.counts["failed"] or report.counts.get("cancelled") else EXIT_OK
