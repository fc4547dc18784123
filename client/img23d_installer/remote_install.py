"""Install Backend on an SSH host: the same installer, run there, over the artist's own ``ssh``.

Everything travels over the one connection, nothing depends on a shared disk: the add-on packs
what the installer needs (the ``img23d_client`` and ``img23d_installer`` packages, the backend's
source and the protocol's wheel, laid out as in a source checkout) into a gzipped tar, and starts
the host's Python with a short bootstrap (``BOOTSTRAP``, our own code, sent base64-encoded so no
quote or newline reaches the host's shell) that reads the tar from its input into a fresh
temporary folder, runs ``python -m img23d_installer.cli --json-progress`` from it (the packages and
the wheel on its ``PYTHONPATH``) with the same options as a local install, and removes the folder
after. The installer's JSON lines come back as progress; its last line is the result or
the failed step. Cancelling (or a dropped connection) ends the bootstrap's input: it then stops the
installer with SIGINT, which stops pip, as Ctrl+C in a terminal does. No bpy here.
"""

from __future__ import annotations

import base64
import io
import json
import shlex
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import img23d_protocol as protocol

import img23d_client
from img23d_client.capped_log import CappedLog
from img23d_client.paths import backend_source_dir, protocol_wheel
from img23d_client.remote import COMMAND_NOT_FOUND, RemoteHost, explain

from .commands import Cancelled, run_logged
from .install import InstallCancelled, InstallError, InstallResult, Progress, Step
from .torch_choice import TorchChoice

BUNDLE = "img23d_bundle"         # the bundle's top folder: client/, backend/ and wheels/, as in a checkout
MAX_REPORT_LINE = 64 * 1024      # a line from the host longer than this is not one of the installer's
# What the installer needs of this side: the packages, wherever they are installed (Blender puts
# them in its extensions' site-packages), go to client/ as in a source checkout (img23d_client.paths).
PACKAGES = (Path(img23d_client.__file__).resolve().parent, Path(__file__).resolve().parent)
BACKEND_FILES = ("pyproject.toml", "README.md", "requirements.txt")

# Run by the host's Python as ``python -c``: read the bundle (a size line, then the bytes), unpack
# it, run the installer from it; the end of input stops the installer (SIGINT to its group).
BOOTSTRAP = """\
import io, os, shutil, signal, subprocess, sys, tarfile, tempfile, threading
size = int(sys.stdin.buffer.readline())
data = bytearray()
while len(data) < size:
    block = sys.stdin.buffer.read(min(1 << 20, size - len(data)))
    if not block:
        sys.exit("img23d: the installer's files were cut off on the way")
    data += block
if not (3, 10) <= sys.version_info[:2] <= (3, 13):  # the installer's own imports need 3.10: an ImportError said so
    sys.exit("img23d: %s is Python %d.%d; the backend's packages need Python 3.10 to 3.13: set Host's Python for "
             "Install to one of those" % ((sys.executable,) + tuple(sys.version_info[:2])))
stage = tempfile.mkdtemp(prefix="img23d-installer-")
code = 1
try:
    with tarfile.open(fileobj=io.BytesIO(bytes(data)), mode="r:gz") as bundle:
        for member in bundle.getmembers():
            if member.name.startswith("/") or ".." in member.name.split("/") or not (member.isfile() or member.isdir()):
                sys.exit("img23d: refusing the installer's file " + repr(member.name))
        bundle.extractall(stage, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    root = os.path.join(stage, "img23d_bundle")
    wheels = [os.path.join(root, "wheels", name) for name in sorted(os.listdir(os.path.join(root, "wheels")))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(root, "client")] + wheels))
    child = subprocess.Popen([sys.executable, "-m", "img23d_installer.cli"] + sys.argv[1:], env=env,
                             start_new_session=True)
    def stop_on_end_of_input():
        sys.stdin.buffer.read()
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGINT)
    threading.Thread(target=stop_on_end_of_input, daemon=True).start()
    code = child.wait()
finally:
    shutil.rmtree(stage, ignore_errors=True)
sys.stdout.flush()
os._exit(code)  # not sys.exit: the thread above may still be reading input, which would stop shutdown
"""


@dataclass
class HostInstall:
    """What to install where on the host (from the preferences and the Install Backend operator)."""

    remote: RemoteHost
    base_python: str = "python3"         # the host's interpreter the environment is built on
    torch_build: str = "auto"
    torch_spec: str = ""
    index_url: str = ""
    pip_args: list[str] = field(default_factory=list)
    family: str = protocol.DEFAULT_FAMILY  # hy3dgen is installed for Hunyuan3D-2's family only

    def target(self) -> str:
        """The environment's folder on the host: the one whose ``bin/python`` the preferences name."""
        python = PurePosixPath(self.remote.python)
        # Install Backend makes <folder>/bin/python; a system Python's folder (/usr) is refused by the
        # installer itself, as any folder that is not a virtual environment.
        if python.name not in ("python", "python3") or python.parent.name != "bin" or len(python.parts) < 3:
            raise InstallError(Step.CREATE_VENV, f"the host's Python {self.remote.python} is not in an environment's "
                                                 "bin folder: set it to <folder>/bin/python, where the environment "
                                                 "should go", Path("(no log yet)"))
        return str(python.parent.parent)

    def words(self) -> list[str]:
        """The host's command: its Python, the bootstrap, the installer's options."""
        code = base64.b64encode(BOOTSTRAP.encode("utf-8")).decode("ascii")
        # --option=value: a value that starts with "--" (pip arguments) is still the option's value.
        words = [self.base_python, "-c", f'exec(__import__("base64").b64decode("{code}"))',
                 "--target", self.target(), f"--torch-build={self.torch_build}", f"--family={self.family}",
                 "--json-progress"]
        if self.torch_spec:
            words.append(f"--torch-spec={self.torch_spec}")
        if self.index_url:
            words.append(f"--index-url={self.index_url}")
        if self.pip_args:
            words.append(f"--pip-args={shlex.join(self.pip_args)}")
        return words


def bundle() -> bytes:
    """The installer, the backend's source and the protocol's wheel, as a gzipped tar (no caches)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for package in PACKAGES:
            tar.add(package, f"{BUNDLE}/client/{package.name}", filter=_no_caches)
        source = backend_source_dir()
        tar.add(source / "img23d_backend", f"{BUNDLE}/backend/img23d_backend", filter=_no_caches)
        for name in BACKEND_FILES:
            if (source / name).is_file():
                tar.add(source / name, f"{BUNDLE}/backend/{name}")
        wheel = protocol_wheel()
        tar.add(wheel, f"{BUNDLE}/wheels/{wheel.name}")
    return buffer.getvalue()


def _no_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if "__pycache__" in info.name.split("/") or info.name.endswith(".pyc"):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def install_on_host(job: HostInstall, *, log_path: Path, progress: Progress | None = None,
                    cancel: Callable[[], bool] | None = None) -> InstallResult:
    """Build (or repair) the backend's environment on the SSH host; the installer's own steps,
    progress and result, as ``install.install`` gives them for this computer."""
    report = progress or (lambda *a: None)
    host = job.remote.host.strip()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    reader = _Reader(report)
    with CappedLog(log_path, truncate=True) as log:  # what the host prints cannot fill this disk
        log.write(f"img23d backend install on {host}, environment {job.target()}, base Python {job.base_python}\n")
        report(Step.CREATE_VENV, 0.0, f"sending the installer to {host}")
        data = bundle()
        try:
            code = run_logged(job.remote.argv(job.words()), log, cancel=cancel or (lambda: False),
                              on_line=reader.line, feed=f"{len(data)}\n".encode("ascii") + data,
                              shown=f"ssh {host} -- {job.base_python} -c <img23d installer> --target {job.target()}")
        except Cancelled:
            raise InstallCancelled(reader.step, log_path) from None
        except OSError as exc:
            raise InstallError(reader.step, f"ssh could not be started: {exc}", log_path) from exc
    if reader.result is not None:
        reader.result.host = host
        return reader.result
    if reader.error:
        raise InstallError(reader.step, reader.error, log_path)
    tail = reader.tail()
    why = explain(job.remote, code, tail)
    if why is None and code == COMMAND_NOT_FOUND and job.base_python in tail:
        why = (f"there is no {job.base_python} on {host}: install Python 3.10 to 3.13 there, or set the host's "
               "Python for Install in the add-on's preferences")
    raise InstallError(reader.step, why or f"the installer on {host} ended with code {code}: "
                                           f"{tail.strip().splitlines()[-1] if tail.strip() else 'no reason given'}",
                       log_path)


class _Reader:
    """The host's output, line by line: the installer's JSON reports, and the rest for the log."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.step = Step.CREATE_VENV
        self.result: InstallResult | None = None
        self.error = ""
        self._tail: list[str] = []

    def line(self, text: str) -> None:
        report = _report(text)
        if report is None:
            self._tail = (self._tail + [text[:500]])[-20:]
            return
        kind = report.get("img23d_install")
        if kind == "progress":
            step, fraction, message = report.get("step"), report.get("fraction"), report.get("message")
            if step in {s.value for s in Step} and isinstance(fraction, (int, float)) and isinstance(message, str):
                self.step = Step(step)
                self.progress(self.step, min(max(float(fraction), 0.0), 1.0), message[:200])
        elif kind == "error" and isinstance(report.get("reason"), str):
            if report.get("step") in {s.value for s in Step}:
                self.step = Step(report["step"])
            where = report.get("log_path") if isinstance(report.get("log_path"), str) else "?"
            self.error = f"{report['reason'][:1000]} (the host's log: {where[:300]})"
        elif kind == "result":
            self.result = _result(report)

    def tail(self) -> str:
        return "\n".join(self._tail)


def _report(text: str) -> dict[str, Any] | None:
    if len(text) > MAX_REPORT_LINE or not text.startswith('{"img23d_install"'):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _result(data: dict[str, Any]) -> InstallResult | None:
    """The installer's result as the host reported it; None when it is not one (then the exit code speaks)."""
    def text(key: str, source: dict[str, Any] = data) -> str:
        value = source.get(key)
        return value[:1000] if isinstance(value, str) else ""

    torch = data.get("torch") if isinstance(data.get("torch"), dict) else {}
    packages = torch.get("packages") if isinstance(torch.get("packages"), list) else []
    warnings = data.get("warnings") if isinstance(data.get("warnings"), list) else []
    steps = data.get("step_seconds") if isinstance(data.get("step_seconds"), dict) else {}
    if not text("python") or not text("device"):
        return None
    return InstallResult(
        env=Path(text("env")), python=Path(text("python")), action=text("action") or "updated",
        torch=TorchChoice(packages=tuple(p for p in packages if isinstance(p, str)), index_url=text("index_url", torch)
                          or None, variant=text("variant", torch), reason=text("reason", torch)),
        torch_version=text("torch_version"), device=text("device"), device_name=text("device_name") or None,
        log_path=Path(text("log_path")), seconds=float(data["seconds"]) if isinstance(data.get("seconds"),
                                                                                        (int, float)) else 0.0,
        step_seconds={str(k)[:40]: float(v) for k, v in steps.items() if isinstance(v, (int, float))},
        warnings=[w[:1000] for w in warnings if isinstance(w, str)])
