"""The backend installer from a terminal: the same code as the add-on's Install button.

    python client/install_backend.py --target ~/img23d-backend
    python client/install_backend.py --plan            # only say which torch build
    python -m img23d_installer.cli ...                 # where img23d_protocol is importable

Run it with the Python that should be the environment's base (3.10 to 3.13; Blender's own
``<blender>/<version>/python/bin/python3.11`` works). ``client/install_backend.py`` puts the
protocol's wheel on the path first (outside Blender nobody installed it). Exit codes: 0
installed, 1 a step failed, 2 bad arguments, 130 cancelled (Ctrl+C).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

import img23d_protocol as protocol
from img23d_client import paths

from .install import InstallError, install
from .torch_choice import plan_torch, probe_system


def _family_help(family: protocol.ModelFamily) -> str:
    packages = f", with {', '.join(family.pip_packages)} installed for it only" if family.pip_packages else ""
    return f"{family.name}: {family.label}{packages}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="install_backend.py", description="Install or repair the img23d backend's "
                                     "Python environment (torch, the models' libraries, the backend).")
    parser.add_argument("--target", type=Path, help="the environment's folder (created, repaired or updated); "
                        "the add-on looks in <its user folder>/backend-env, or set Backend Python to "
                        "<target>/bin/python")
    parser.add_argument("--python", type=Path, default=None, help="interpreter to base it on (default: this one)")
    parser.add_argument("--torch-build", default="auto", help="auto (default), cpu, pypi, cu130, cu128, cu126, "
                        "cu124, cu121 or cu118")
    parser.add_argument("--torch-spec", default=None, help='exact torch packages, e.g. "torch==2.13.0 '
                        'torchvision==0.28.0" (with --index-url for a mirror)')
    parser.add_argument("--index-url", default=None, help="the index torch comes from")
    parser.add_argument("--pip-args", default="", help='extra pip arguments for every install, e.g. '
                        '"--find-links /wheels --no-compile"')
    parser.add_argument("--log", type=Path, default=None, help="the log file (default: <target>.install.log)")
    # The protocol's families (img23d_protocol.families): a family's own packages are installed for it only.
    parser.add_argument("--family", default=protocol.DEFAULT_FAMILY, choices=tuple(protocol.MODEL_FAMILIES),
                        help=f"the model family the backend will run (default {protocol.DEFAULT_FAMILY}): "
                             + "; ".join(_family_help(family) for family in protocol.MODEL_FAMILIES.values()))
    parser.add_argument("--plan", action="store_true", help="print the torch build it would install, and stop")
    parser.add_argument("--json-progress", action="store_true", help="report progress and the outcome as JSON "
                        "lines (what Install Backend reads when it installs on an SSH host)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    system = probe_system()
    try:
        choice = plan_torch(system, build=args.torch_build, torch_spec=args.torch_spec,
                                      index_url=args.index_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"torch: {choice.reason}\n       pip install {' '.join(choice.pip_arguments())}")
    if args.plan:
        return 0
    if args.target is None:
        print("error: --target is required (the folder of the environment)", file=sys.stderr)
        return 2
    target = args.target.expanduser().absolute()
    log = args.log or target.with_name(target.name + ".install.log")
    report = _JsonReport() if args.json_progress else None
    try:
        pip_args = shlex.split(args.pip_args)
    except ValueError as exc:  # an unclosed quote: a traceback before
        print(f"error: --pip-args cannot be read ({exc}): close its quotes", file=sys.stderr)
        return 2
    _stop_on_signals()
    try:
        result = install(target, paths.backend_source_dir(), paths.protocol_wheel(), python=args.python,
                         torch=choice, pip_args=pip_args, log_path=log, progress=report or _Printer(),
                         family=args.family)
    except OSError as exc:  # before any step could name itself (the log on a full disk): one sentence
        print(f"\nerror: {exc.strerror or exc}: {exc.filename or target}", file=sys.stderr)
        return 1
    except InstallError as exc:
        if report is not None:
            report.line("error", step=exc.step.value, reason=exc.reason, log_path=str(exc.log_path))
        print(f"\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ncancelled; run it again to finish (log: {log})", file=sys.stderr)
        return 130
    if report is not None:
        report.line("result", **result.to_json())
    print(f"\n{result.summary()} in {result.seconds:.0f} s\n"
          f"Backend Python: {result.python}\nlog: {result.log_path}")
    return 0


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a closed terminal, a dropped SSH link) stop the install as Ctrl+C does: pip runs in a
    session of its own, so it kept running, writing into the environment, after the installer was gone."""
    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            signal.signal(signum, stop)


class _JsonReport:
    """One JSON line per progress call, then the outcome: ``{"img23d_install": kind, ...}``."""

    def __call__(self, step: Any, fraction: float, message: str) -> None:
        self.line("progress", step=step.value, fraction=round(fraction, 4), message=message[:200])

    @staticmethod
    def line(kind: str, **fields: Any) -> None:
        print(json.dumps({"img23d_install": kind, **fields}), flush=True)


class _Printer:
    """One line per step, the latest pip line overwritten on a terminal."""

    def __init__(self) -> None:
        self.step: Any = None
        self.tty = sys.stdout.isatty()

    def __call__(self, step: Any, fraction: float, message: str) -> None:
        if step is not self.step:
            self.step = step
            print(f"\n[{fraction:4.0%}] {step.label}" if self.tty else f"[{fraction:4.0%}] {step.label}", flush=True)
        elif self.tty:
            print(f"\r       {message[:100]:<100}", end="", flush=True)


if __name__ == "__main__":
    sys.exit(main())
