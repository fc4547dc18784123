"""``python -m img23d_backend probe``: run every environment probe a model set needs.

Prints one line per probe (or, with ``--json``, one JSON object: ``env_probe.ProbeReport``,
which the add-on's installer reads as its health check) and exits 0 when all passed, 1 when
one failed, 2 when the command line was wrong. Nothing is loaded or downloaded.
"""

from __future__ import annotations

import argparse
import json

from img23d_protocol import ProtocolError, plain

from ..models import env_probe
from ..catalog import model_set
from .options import EXIT_FAILED, EXIT_OK, said_failure


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    probe = sub.add_parser("probe", help="check that torch and torchvision run what the models need")
    probe.add_argument("--models", default="default", choices=("default", "tiny"),
                       help="the model set whose probes to run")
    probe.add_argument("--device", default="auto", help="auto, cuda, cuda:N, mps or cpu")
    probe.add_argument("--json", action="store_true", help="print one JSON object (for the add-on's installer)")


def run(args: argparse.Namespace) -> int:
    from ..env.device import pick_device

    try:
        device = pick_device(args.device)
        models = model_set(args.models)
    except ProtocolError as exc:
        return said_failure(exc)
    report = env_probe.report(env_probe.probes_for(models), device, models=args.models)
    if args.json:
        print(json.dumps(plain(report.to_dict())), flush=True)
    else:
        print(f"torch {report.torch or 'missing'}, torchvision {report.torchvision or 'missing'}, on {report.device}")
        for result in report.results:
            note = f": {result.message}" if result.message else ""
            print(f"  {'ok' if result.ok else 'FAILED':6} {result.name}{note}")
    return EXIT_OK if report.ok else EXIT_FAILED
