"""What the Blender tests share besides fixtures: names, paths, preferences, the live add-on."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator
from types import ModuleType
from typing import Any

from img23d_client import waiting

REPO = Path(__file__).resolve().parents[2]
ADDON_MODULE = "bl_ext.user_default.img23d"
# The backend's interpreter: this one, unless Blender runs from another environment (the
# Blender 4.2 run has bpy 4.2 and no torch; its backend is the main .venv's Python).
BACKEND_PYTHON = os.environ.get("IMG23D_TEST_BACKEND_PYTHON", sys.executable)


class LiveAddon:
    """The add-on's package as it is loaded *now*.

    Disabling and enabling the add-on (as some tests do) imports it afresh; a module object
    kept from before would be a stale copy with its own protocol classes and runtime.
    """

    @property
    def module(self) -> ModuleType:
        return sys.modules[ADDON_MODULE]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)


def _module(addon: Any, name: str) -> ModuleType:
    """The add-on's module ``name`` as loaded now; ``addon`` (the fixture) makes sure the add-on is."""
    return sys.modules[f"{ADDON_MODULE}.{name}"]


def configure_preferences(runs_dir: Path | None = None) -> None:
    """Point the add-on at this test run's Python and the tiny models."""
    import bpy

    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.python_path = BACKEND_PYTHON
    prefs.model_set = "TINY"
    prefs.device = "cpu"
    if runs_dir is not None:
        configure_preferences.runs_dir = str(runs_dir)  # type: ignore[attr-defined]
    prefs.runs_dir = configure_preferences.runs_dir  # type: ignore[attr-defined]


@contextmanager
def backend_set_aside(addon: Any) -> Iterator[None]:
    """While a test runs a backend of its own (a failpoint's, a stand-in's fake Python, one on an SSH host), the
    backend an earlier test left running is set aside, not stopped, and taken back after, the test's own stopped:
    the next test that needs the usual backend finds it still up, where it would otherwise start another and load
    its models again (about 6 CPU-seconds each time). The runtime's slot is empty meanwhile, so the test starts
    with no backend, as after a stop. An add-on disabled and enabled by the test is a new runtime, which the kept
    backend does not belong to: it is stopped instead."""
    runtime = addon.runtime
    kept = runtime.session() if runtime.has_session() else None
    runtime._session = None
    try:
        yield
    finally:
        addon.runtime.shutdown()
        if kept is not None and addon.runtime is runtime:
            runtime._session = kept
        elif kept is not None:
            kept.stop()


# How long a tiny-model job may take in these tests before the wait fails (2-core CI, under load).
JOB_TIMEOUT = 180.0


def tick_until(runner: Any, condition: Callable[[], bool], what: str, timeout: float = JOB_TIMEOUT) -> None:
    """Drive ``runner`` as the operators' modal timer does until ``condition()``; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        waiting.tick(runner)
        assert not runner.finished or condition(), f"the job ended before {what}: {runner.outcome.summary()}"
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.05)


def run_to_end(runner: Any, timeout: float = JOB_TIMEOUT) -> Any:
    """Wait for ``runner``'s job as the job operators do from a script (cancelled, and a
    ``TimeoutError`` naming it, after ``timeout``); its outcome."""
    waiting.wait_to_end(runner, timeout=timeout)
    return runner.outcome


def recording_submit(addon: Any, monkeypatch: Any) -> list:
    """The requests the add-on hands its backend session from now on, each still sent."""
    session = addon.runtime.session()
    sent: list = []
    real = session.submit

    def submit(request: Any) -> Any:
        sent.append(request)
        return real(request)

    monkeypatch.setattr(session, "submit", submit)
    return sent


def reached_stage(session: Any, stage: str) -> Callable[[], bool]:
    return lambda: session.progress is not None and session.progress.stage == stage


class StandInLayout:
    """Records what draw() asks for; every container returns another recorder."""

    def __init__(self, log: list[tuple]) -> None:
        self.log = log
        self.enabled = True
        self.alert = False

    def _container(self, *args, **kwargs) -> "StandInLayout":
        return StandInLayout(self.log)

    row = column = box = split = grid_flow = column_flow = _container

    def __getattr__(self, name: str):
        def record(*args, **kwargs):
            self.log.append((name, args, kwargs))
            return StandInLayout(self.log)
        return record


class StandInSession:
    """Enough of a BackendSession for a JobRunner fed its messages by hand."""

    hello = None
    progress = None

    def submit(self, request: Any) -> str:
        request.id = "job-1"
        return request.id


def draw_main_panel(addon: Any) -> list[tuple]:
    """Everything the main panel's draw() asks of its layout, in order."""
    log: list[tuple] = []
    panel = type("StandInPanel", (), {"layout": StandInLayout(log)})()
    import bpy

    addon.panels.main.IMG23D_PT_main.draw(panel, bpy.context)
    return log


def labels(log: list[tuple]) -> list[str]:
    return [kwargs.get("text", "") for name, args, kwargs in log if name == "label"]


def pbr_images(material: Any) -> tuple[Any, Any]:
    """A painted object's base-colour image and its metallic-roughness image, as Blender's glTF importer
    wires them: Base Color from one image, Metallic (blue) and Roughness (green) through Separate Color
    from another."""
    principled = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    [colour] = principled.inputs["Base Color"].links
    channels = {}
    for socket in ("Metallic", "Roughness"):
        [link] = principled.inputs[socket].links
        assert link.from_node.type == "SEPARATE_COLOR", f"{socket} comes from a {link.from_node.type}"
        [image_link] = link.from_node.inputs[0].links
        channels[socket] = (link.from_socket.name, image_link.from_node.image)
    assert [name for name, _ in channels.values()] == ["Blue", "Green"], channels
    assert channels["Metallic"][1] is channels["Roughness"][1] is not colour.from_node.image
    return colour.from_node.image, channels["Metallic"][1]
