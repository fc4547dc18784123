"""img23d: turn a picture into 3D objects, one per named part.

The add-on is the Blender side only: it reads the artist's inputs, drives the backend
process (``client``), and brings the meshes into the scene (``scene_import``). It never
imports torch or any ML package; those live in the backend's own Python environment.
"""

from __future__ import annotations

import atexit

import bpy

from . import operators, panels, preferences, properties, runtime

_classes = (*properties.classes, *preferences.classes, *operators.classes, *panels.classes)


def register() -> None:
    for cls in _classes:
        bpy.utils.register_class(cls)
    properties.register()
    runtime.configure(lambda: preferences.get().launch_settings())
    atexit.register(runtime.shutdown)


def unregister() -> None:
    atexit.unregister(runtime.shutdown)
    runtime.shutdown()
    properties.unregister()
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
