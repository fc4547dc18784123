"""A stand-in interpreter for installer tests: answers the installer's commands by a mode file.

Copied as ``<env>/bin/python`` (or used as the base interpreter); behaviour comes from the file
``fake-mode`` in the environment's root (``healthy`` when absent): ``healthy``, ``incomplete``
(the backend does not import), ``broken`` (nothing runs), ``pip-fails`` (pip exits 1),
``pip-hangs`` (pip sleeps until killed), ``probe-fails`` (the backend's environment probe finds
torchvision's deform_conv2d missing, as with a torchvision built for another torch; an
environment it creates inherits the mode, as reinstalling on such a platform gets the same
build), ``device-limit`` (a probe fails in a way reinstalling cannot fix), ``no-probe`` (a
backend from before the probe command). As ``-m img23d_backend serve`` it says hello and waits
for its stdin to close. Every pip call is appended to ``pip-calls.txt``. The
version it claims is in ``fake-version`` (3.11.7 when absent).
"""

import json
import os
import shutil
import stat
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent if HERE.parent.name in ("bin", "Scripts") else HERE.parent
MODE_FILE = ROOT / "fake-mode"
mode = MODE_FILE.read_text().strip() if MODE_FILE.is_file() else "healthy"
VERSION_FILE = ROOT / "fake-version"
version = VERSION_FILE.read_text().strip() if VERSION_FILE.is_file() else "3.11.7"
args = sys.argv[1:]

if mode == "broken":
    print("error while loading shared libraries: libpython3.11.so.1.0: cannot open shared object file")
    sys.exit(127)

if args[:1] == ["-c"]:
    code = args[1]
    if "ensurepip" in code:
        print(version)
    elif "import img23d_backend, torch" in code:
        if mode == "incomplete":
            print("ModuleNotFoundError: No module named 'torch'", file=sys.stderr)
            sys.exit(1)
        print("2.13.0+cpu")
    elif "importlib.metadata" in code:
        print("torch==2.13.0+cpu\ntorchvision==0.28.0")
    else:
        print(sys.version)
    sys.exit(0)

if args[:2] == ["-m", "venv"]:
    env = Path(args[2])
    (env / "bin").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(f"home = {HERE.parent}\n")
    shutil.copy2(HERE, env / "bin" / "python")
    (env / "bin" / "python").chmod(stat.S_IRWXU)
    if mode == "probe-fails":
        (env / "fake-mode").write_text(mode)
    print(f"created {env}")
    sys.exit(0)

PROBE_FAILURE = ("torchvision's compiled op torchvision.ops.deform_conv2d does not work on cpu (torch 2.13.0+cpu, "
                 "torchvision 0.28.0+cu130, whose compiled ops did not load): reinstall the backend environment: "
                 "Install Backend > Repair in the add-on's preferences, or the installer's command line "
                 "(installer/cli.py)")

if args[:3] == ["-m", "img23d_backend", "serve"]:
    # Just enough of a backend for the installer's last step: a hello, then wait for stdin to close.
    print(json.dumps({"v": 1, "type": "hello", "role": "backend", "protocol": [1, 0], "version": "fake",
                      "device": "cpu"}), flush=True)
    sys.stdin.read()
    sys.exit(0)

if args[:3] == ["-m", "img23d_backend", "probe"]:
    if mode == "probe-hangs":  # a GPU that takes its time to answer
        time.sleep(60)
    if mode == "incomplete":
        print("Traceback (most recent call last):\nModuleNotFoundError: No module named 'torch'", file=sys.stderr)
        sys.exit(1)
    if mode == "no-probe":
        print("python -m img23d_backend: error: argument command: invalid choice: 'probe' "
              "(choose from 'generate', 'detect', 'serve')", file=sys.stderr)
        sys.exit(2)
    failing = {"probe-fails": True, "device-limit": False}.get(mode)
    results = [{"name": "torch", "ok": True, "message": "", "detail": "", "repairable": False},
               {"name": "torchvision", "ok": True, "message": "", "detail": "", "repairable": False},
               {"name": "deform_conv2d", "ok": failing is None, "repairable": bool(failing),
                "message": "" if failing is None else PROBE_FAILURE, "detail": ""}]
    print("UserWarning: something torch logs on stderr", file=sys.stderr)
    print(json.dumps({"ok": failing is None, "device": "cpu", "torch": "2.13.0+cpu", "torchvision": "0.28.0",
                      "models": "default", "results": results,
                      "message": "" if failing is None else PROBE_FAILURE}))
    sys.exit(0 if failing is None else 1)

if args[:2] == ["-m", "pip"]:
    with open(ROOT / "pip-calls.txt", "a") as calls:
        calls.write(" ".join(args[2:]) + "\n")
    if mode == "pip-fails":
        print("ERROR: Could not find a version that satisfies the requirement torch==99 (fake pip failure)")
        sys.exit(1)
    if mode == "pip-hangs":
        (ROOT / "pip.pid").write_text(str(os.getpid()))
        print("Collecting torch", flush=True)
        time.sleep(600)
    print("Successfully installed fake-package-1.0")
    sys.exit(0)

print(f"fake python: unexpected arguments {args}", file=sys.stderr)
sys.exit(2)
