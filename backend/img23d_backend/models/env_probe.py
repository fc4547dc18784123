"""Environment probes: does this torch and torchvision build run what the models need?

A torchvision whose compiled operators do not match torch imports fine (with ``env.torch_shims``'s
stubs) and fails only when a model calls one of those operators, deep inside its first
forward, with an error nobody can act on. Each probe makes one tiny real call instead, on the
device the models will use, and a failure becomes an ``environment`` error that names the
operation, the versions and the repair.

``GENERAL`` probes run when the backend starts (the CLI and ``serve``); ``MODEL_LOADING`` ones before
any model's first load (``ready_for_load``, called by the model manager), and at the start of a
command-line job, which loads models; the others are declared by the models that need them
(``ModelSpec.probes``) and run before that model's first load. ``python -m img23d_backend probe`` runs them
all for a model set; the add-on's installer runs that command as its health check.

Failpoint places ``probe.<name>`` (action ``missing-op``) make a probe fail as a missing
compiled operator does, for tests.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import img23d_protocol
from img23d_protocol import ErrorCode, ProtocolError

from ..env import failpoints
from ..env.torch_shims import prepare_torchvision, torchvision_stubbed
from .cache import configured_specs
from .oom import is_out_of_memory
from .registry import ModelSet, ModelSpec

log = logging.getLogger(__name__)

REPAIR = ("reinstall the backend environment: Install Backend > Repair in the add-on's preferences, "
          "or the installer's command line (install_backend.py in the add-on's folder)")
GENERAL = ("torch",)
# Every model's loader imports transformers, diffusers or hy3dgen, which import torchvision. Not
# probed before a backend's hello: importing torchvision pulls in torch's compiler stack, 1.3 s of the
# 4.0 s from spawn to hello (measured here). ``serve`` imports it after the hello, on its warm-up
# thread; a command that loads no model (retopo, finish, rig binding) never does. A broken
# torchvision is named before the first model loads instead.
MODEL_LOADING = ("torchvision",)


@dataclass(frozen=True)
class Probe:
    """One check: a tiny real call, and what it means for people when it fails."""

    name: str
    what: str                          # "the compiled op torchvision.ops.deform_conv2d"
    run: Callable[[Any], None]         # raises when the environment cannot do it on that device


@dataclass
class ProbeResult:
    name: str
    ok: bool
    message: str = ""                  # for people: what failed and what to do
    detail: str = ""                   # the exception's type and first line
    repairable: bool = False           # True: reinstalling the environment is the fix


@dataclass
class ProbeReport:
    """What ``probe --json`` prints; the installer reads ``ok``, ``message`` and ``torch``."""

    ok: bool
    device: str
    torch: str | None
    torchvision: str | None
    models: str = ""
    results: list[ProbeResult] = field(default_factory=list)
    message: str = ""                  # the first failure's message, or "" when all passed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the probes ---------------------------------------------------------------------------------


def _torch_computes(device: Any) -> None:
    import torch

    image = torch.arange(4.0, device=device).reshape(1, 1, 2, 2)
    kernel = torch.ones(1, 1, 2, 2, device=device)
    value = float(torch.nn.functional.conv2d(image, kernel).sum().cpu())
    if value != 6.0:
        raise RuntimeError(f"a 2x2 convolution gave {value} instead of 6")


def _torchvision_imports(device: Any) -> None:
    prepare_torchvision()
    import torchvision.transforms.functional  # noqa: F401  (what hy3dgen and Qwen's processor use)


def _deform_conv2d_runs(device: Any) -> None:
    import torch

    prepare_torchvision()
    from torchvision.ops import deform_conv2d

    ones = torch.ones(1, 1, 3, 3, device=device)
    offsets = torch.zeros(1, 2 * 3 * 3, 1, 1, device=device)
    value = float(deform_conv2d(ones, offsets, ones).sum().cpu())
    if value != 9.0:
        raise RuntimeError(f"deform_conv2d of ones gave {value} instead of 9")


PROBES: dict[str, Probe] = {probe.name: probe for probe in (
    Probe("torch", "torch's own tensor maths", _torch_computes),
    Probe("torchvision", "importing torchvision", _torchvision_imports),
    Probe("deform_conv2d", "torchvision's compiled op torchvision.ops.deform_conv2d", _deform_conv2d_runs),
)}

_passed: set[tuple[str, str]] = set()   # (probe, device) pairs that passed in this process
_lock = threading.Lock()


# -- running them -------------------------------------------------------------------------------


def versions() -> dict[str, str | None]:
    """torch's and torchvision's versions: the imported module's own (it names the build, e.g.
    ``+cu130``), else the installed package's, read without importing it."""
    found: dict[str, str | None] = {}
    for name in ("torch", "torchvision"):
        version = getattr(sys.modules.get(name), "__version__", None)
        if not isinstance(version, str):
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                version = None
        found[name] = version
    return found


def run_probe(name: str, device: Any) -> ProbeResult:
    """Run one probe (once per device and process when it passes)."""
    probe = PROBES.get(name)
    if probe is None:
        raise ValueError(f"unknown environment probe {name!r}; known: {', '.join(PROBES)}")
    key = (name, str(device))
    with _lock:
        try:
            failpoints.hit(f"probe.{name}")
            if key not in _passed:
                probe.run(device)
        except Exception as exc:  # the boundary of a probe: whatever it raised is the finding
            return _failure(probe, device, exc)
        _passed.add(key)
    return ProbeResult(name=name, ok=True)


def _failure(probe: Probe, device: Any, exc: BaseException) -> ProbeResult:
    detail = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:300]
    found = versions()
    where = f"on {device} (torch {found['torch'] or 'missing'}, torchvision {found['torchvision'] or 'missing'}"
    where += ", whose compiled ops did not load)" if torchvision_stubbed() else ")"
    if is_out_of_memory(exc):
        # A full device says nothing about the installation; the model's own load will report it.
        log.warning("probe %s could not run %s: the device is out of memory", probe.name, where)
        return ProbeResult(name=probe.name, ok=True, detail=detail)
    if "busy or unavailable" in str(exc):
        # CUDA's "device(s) is/are busy or unavailable" (another program holds it in exclusive mode): the
        # installation is fine, and a Repair rebuilt the whole environment for it.
        return ProbeResult(name=probe.name, ok=False, detail=detail, repairable=False, message=(
            f"{probe.what} could not run {where}: the GPU is busy or unavailable (another program may hold it); "
            "close it, or choose the cpu device for now"))
    if isinstance(exc, NotImplementedError):
        # The build is fine; this device type has no kernel for it (e.g. some ops on MPS).
        return ProbeResult(name=probe.name, ok=False, detail=detail, repairable=False, message=(
            f"{probe.what} is not available {where}: choose the cpu device for now"))
    return ProbeResult(name=probe.name, ok=False, detail=detail, repairable=True, message=(
        f"{probe.what} does not work {where}: {REPAIR}"))


def require(names: Iterable[str], device: Any, needed_by: str = "") -> None:
    """Raise ``ProtocolError(environment)`` for the first probe in ``names`` that fails."""
    for name in names:
        result = run_probe(name, device)
        if not result.ok:
            prefix = f"{needed_by} cannot run here: " if needed_by else ""
            log.error("environment probe %s failed: %s", name, result.detail)
            raise ProtocolError(ErrorCode.ENVIRONMENT, prefix + result.message, result.detail)


def ready_for_load(spec: ModelSpec, device: Any) -> None:
    """Everything a model needs before its loader runs; the model manager calls this first.

    torchvision is readied here, once, for every loader: they all import transformers, diffusers
    or hy3dgen, which import torchvision, and where its compiled ops do not match torch that
    import fails unless ``env.torch_shims`` stubbed them first. Then the model's own probes.
    """
    prepare_torchvision()
    require((*MODEL_LOADING, *spec.probes), device, needed_by=f"{spec.display} ({spec.role})")


def probes_for(models: ModelSet) -> list[str]:
    """The general probes, those before any model loads, then each probe the set's models declare,
    once, in order."""
    specs = configured_specs(models)
    names = [*GENERAL, *MODEL_LOADING] if specs else list(GENERAL)
    for spec in specs:
        names.extend(name for name in spec.probes if name not in names)
    return names


def report(names: Iterable[str], device: Any, models: str = "") -> ProbeReport:
    """Run every probe in ``names`` (not stopping at the first failure) and say how it went."""
    results = [run_probe(name, device) for name in names]
    failed = [result for result in results if not result.ok]
    found = versions()
    return ProbeReport(ok=not failed, device=str(device), torch=found["torch"], torchvision=found["torchvision"],
                       models=models, results=results, message=failed[0].message if failed else "")


def summary() -> dict[str, Any]:
    """For the hello: the versions, and which probes have passed in this process."""
    return {**versions(), "torchvision_stubbed": torchvision_stubbed(),
            "probes_passed": sorted({name for name, _device in _passed}),
            # Which protocol this process speaks, and from where: the add-on's wheel, normally.
            "img23d_protocol": img23d_protocol.__version__, "img23d_protocol_file": img23d_protocol.__file__}
