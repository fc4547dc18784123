"""Getting the heavy libraries (and, if asked, the default models) ready right after ``hello``.

Importing transformers, diffusers and hy3dgen takes seconds; done inside the first job it
delays the first object. The service starts this on a background thread once it has said
hello, so the add-on's handshake never waits for it and the first job usually finds it done.
The imports run while the model manager is held (``reserved``): a job's first load waits for
them rather than importing the same lazily built modules from a second thread, and a job waits
for a model being preloaded rather than load it twice.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..env.torch_shims import prepare_torchvision
from ..families.table import family_of

log = logging.getLogger(__name__)

# What the stages' loaders and runs import on first use, whatever the family.
MODULES = (
    "transformers",
    "diffusers",
    "accelerate",
    "trimesh",
    "fast_simplification",
)


def modules_for(manager: Any) -> tuple[str, ...]:
    """The modules the manager's models import: every family's, then those of each family with a
    model in the set (hy3dgen's only where a Hunyuan3D-2 model is: the licence-clean family runs no
    Tencent-licensed code)."""
    specs = [manager.spec(role) for role in manager.roles]
    families = {spec.family: family_of(spec) for spec in specs if spec.family is not None}
    return MODULES + tuple(name for family in families.values() for name in family.warmup_modules)


@dataclass
class WarmUp:
    """What the warm-up did, for the log and for tests."""

    imported: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    preloaded: list[str] = field(default_factory=list)
    seconds: float = 0.0


def warm_up(manager: Any, preload: tuple[str, ...] = ()) -> WarmUp:
    """Import the heavy modules, then make the ``preload`` roles resident (in that order)."""
    started = time.perf_counter()
    report = WarmUp()
    with manager.reserved():  # a job's first load waits for these imports rather than racing them
        prepare_torchvision()  # before anything imports torchvision (hy3dgen, the Qwen processor)
        for name in modules_for(manager):
            try:
                importlib.import_module(name)
                report.imported.append(name)
            except ImportError as exc:  # the job that needs it will say so, with a code
                report.failed[name] = str(exc)
    for role in preload:
        if role not in manager.roles:
            report.failed[role] = "no such model in this model set"
            continue
        manager.preload(role)
        report.preloaded.append(role)
    report.seconds = time.perf_counter() - started
    log.info("warm-up: imported %d modules, preloaded %s in %.1fs%s", len(report.imported),
             ", ".join(report.preloaded) or "nothing", report.seconds,
             f"; failed: {report.failed}" if report.failed else "")
    return report


def start_warm_up(manager: Any, preload: tuple[str, ...] = ()) -> threading.Thread:
    """``warm_up`` on a daemon thread; a failure is logged, never raised into the service."""

    def run() -> None:
        try:
            warm_up(manager, preload)
        except Exception:  # the thread's boundary: the first job meets the same problem and reports it
            log.warning("warm-up failed; models will load when a job needs them", exc_info=True)

    thread = threading.Thread(target=run, name="img23d-warm-up", daemon=True)
    thread.start()
    return thread
