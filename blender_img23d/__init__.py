"""img23d: turn a picture into 3D objects, one per named part.

The add-on is the Blender side only: it reads the artist's inputs, drives the backend
process (the ``img23d_client`` package, bpy-free), and brings the meshes into the scene (``scene_import``). It never
imports torch or any ML package; those live in the backend's own Python environment.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

import bpy
from img23d_client import paths

from . import job_costs, operators, panels, preferences, properties, runtime
from .operators._wait import redraw

_classes = (*properties.classes, *preferences.classes, *operators.classes, *panels.classes)
IDLE_DRAIN_SECONDS = 1.0


def _drain_while_idle() -> float:
    """Between jobs nobody else reads the backend: a host that floods it then is read (and dropped,
    client.watch), never left to pile up. A running job's runner pumps for itself. The backend's estimate
    of the panel's Generate, once it comes, is drawn: the panel draws again only when something moves."""
    runtime.pump_for_waiters()
    if runtime.has_session() and job_costs.estimate_arrived(runtime.session()):
        redraw(bpy.context, ("VIEW_3D",))
    return IDLE_DRAIN_SECONDS


def _hold_module(cls: type) -> None:
    """Blender 4.2 keeps a reference to a property group for good once it was registered (unregistering
    it does not let go; 5.0 does), and its functions keep their module's variables, ``bpy`` among them.
    When Python shuts down, a module dropped before its turn keeps its variables: then the bpy module
    is never freed, Blender's own shutdown (which the bpy module runs when it is freed) never runs, and
    the process ends in a segmentation fault (exit 139) after Python is gone, even with the add-on
    disabled. A module still held at its turn has its variables cleared: so each group holds its own."""
    if issubclass(cls, bpy.types.PropertyGroup):
        cls._img23d_module = sys.modules[cls.__module__]


def register() -> None:
    paths.ship_from(Path(__file__).resolve().parent)  # backend/, wheels/, guide/ travel beside this file
    for cls in _classes:
        _hold_module(cls)
        bpy.utils.register_class(cls)
    properties.register()
    operators.menus.register_menus()
    runtime.configure(lambda: preferences.get().launch_settings())
    atexit.register(runtime.shutdown)
    bpy.app.timers.register(_drain_while_idle, first_interval=IDLE_DRAIN_SECONDS, persistent=True)


def unregister() -> None:
    if bpy.app.timers.is_registered(_drain_while_idle):
        bpy.app.timers.unregister(_drain_while_idle)
    atexit.unregister(runtime.shutdown)
    runtime.shutdown()
    operators.menus.unregister_menus()
    properties.unregister()
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
