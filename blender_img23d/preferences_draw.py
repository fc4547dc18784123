"""The preferences' Backend and Models boxes: draw() only, from state operators keep.

Nothing here blocks, starts a process or asks the backend: the install's progress comes
from ``runtime.install_task``, the model list from ``runtime.catalog`` (filled by the
Refresh, Download and Delete operators), download progress from the session.
"""

from __future__ import annotations

from typing import Any

import bpy

import img23d_protocol as protocol

from . import licence_consent, runtime
from .model_catalog import describe_size
from .user_folders import installed_env_dir, installed_env_python

STATE_ICONS = {"cached": "CHECKMARK", "partial": "ERROR", "missing": "IMPORT"}


def draw_backend_setup(layout: bpy.types.UILayout, prefs: Any) -> None:
    box = layout.box()
    box.label(text="Backend", icon="CONSOLE")
    box.prop(prefs, "backend", expand=True)
    if prefs.backend == "SSH":
        draw_remote(box, prefs)
        # Whether the host has it is only known by asking the host: the button offers both.
        _draw_install(box, prefs, "ssh_install_python", "Install / Repair on Host", None)
        return
    box.prop(prefs, "python_path")
    if prefs.python_path:
        box.label(text="Using this interpreter; clear the field to use the installed environment", icon="INFO")
        return
    box.label(text=f"Environment: {installed_env_dir()}")
    installed = installed_env_python().is_file()
    _draw_install(box, prefs, "install_python", "Repair / Update" if installed else "Install Backend", installed)


def _draw_install(box: bpy.types.UILayout, prefs: Any, base_python: str, label: str, installed: bool | None) -> None:
    """The install button and its options, or the running install's progress, or how the last one ended."""
    task = runtime.install_task
    if task is not None and not task.finished:
        step, fraction, message = task.snapshot()
        title = step.label if step is not None else "Preparing"
        box.progress(factor=fraction, type="BAR", text=f"{title} {fraction:.0%}")
        box.label(text=message[:100])
        row = box.row()
        row.enabled = not task.cancelling
        row.operator("img23d.install_cancel", text="Stopping..." if task.cancelling else "Cancel", icon="CANCEL")
        return
    box.prop(prefs, base_python)
    row = box.row()
    row.prop(prefs, "torch_build", text="PyTorch")
    row.operator("img23d.install_backend", text=label, icon="FILE_REFRESH" if installed else "IMPORT")
    if task is None:
        if installed is False:
            box.label(text="Not installed yet: Install Backend takes a few minutes and a few GB", icon="INFO")
        return
    if task.result is not None:
        lines = _wrap(task.result.summary(), 100)[:6]
        for number, line in enumerate(lines):
            box.label(text=line, icon=("ERROR" if task.result.warnings else "CHECKMARK") if number == 0 else "BLANK1")
    elif task.error:
        for line in _wrap(task.error, 100)[:4]:
            box.label(text=line, icon="ERROR" if not task.cancelled else "INFO")


def draw_models(layout: bpy.types.UILayout, prefs: Any) -> None:
    box = layout.box()
    header = box.row()
    header.label(text="Models", icon="PACKAGE")
    catalog = runtime.catalog
    refresh = header.row()
    refresh.enabled = not catalog.busy
    refresh.operator("img23d.models_refresh", text="Refresh", icon="FILE_REFRESH")
    box.prop(prefs, "offline")
    if not catalog.fetched:
        box.label(text="Press Refresh to list the models and their sizes (starts the backend)")
    elif catalog.stale(prefs.model_configuration()):
        box.label(text="The model choices changed: press Refresh", icon="INFO")
    session = runtime.session() if runtime.has_session() else None
    for entry in catalog.entries:
        _draw_entry(box, entry, catalog, session)
    if catalog.fetched and catalog.offline:
        box.label(text="Offline: downloads are off (Offline switch, or Blender's online access)", icon="INFO")
    if catalog.busy and catalog.busy != "downloading":
        box.label(text=f"{catalog.busy.capitalize()}...", icon="SORTTIME")
    if catalog.error:
        for line in _wrap(catalog.error, 100)[:3]:
            box.label(text=line, icon="ERROR")
    elif catalog.message:
        box.label(text=catalog.message)
    if catalog.cache_dir:
        box.label(text=f"Cache: {catalog.cache_dir}")
    draw_accepted_licences(box, prefs)


def _draw_entry(box: bpy.types.UILayout, entry: Any, catalog: Any, session: Any) -> None:
    row = box.row()
    row.label(text=f"{entry.role}: {entry.id}", icon=STATE_ICONS.get(entry.state, "QUESTION"))
    row.label(text=f"{describe_size(entry)}  {'local' if entry.local else entry.state}")
    _draw_licence(box, entry)
    if entry.local:
        return
    if catalog.download_model == entry.id:
        progress = session.progress if session is not None else None
        fraction = progress.step / progress.total if progress is not None and progress.total else 0.0
        row.progress(factor=fraction, type="BAR", text=f"{fraction:.0%}")
        row.operator("img23d.model_download_cancel", text="", icon="CANCEL")
        return
    buttons = row.row(align=True)
    buttons.enabled = not catalog.busy
    if entry.state != "cached":
        download = buttons.row(align=True)
        download.enabled = not catalog.offline  # it would only say model_missing
        # A partial model was interrupted: Download fetches only the files it lacks.
        text = "Resume" if entry.state == "partial" else "Download"
        download.operator("img23d.model_download", text=text, icon="IMPORT").model = entry.id
    if entry.state != "missing":
        buttons.operator("img23d.model_delete", text="", icon="TRASH").model = entry.id


def _draw_licence(box: bpy.types.UILayout, entry: Any) -> None:
    """Under each model: its licence, a link to it at the pinned revision, and what it restricts."""
    stated = licence_consent.of_entry(entry)
    for number, line in enumerate(licence_consent.lines(entry)):
        row = box.row()
        row.label(text=line, icon="BLANK1" if number == 0 else "ERROR")
        if number == 0 and stated is not None:
            row.operator("wm.url_open", text="Licence", icon="URL").url = stated.url(entry.revision)


def draw_accepted_licences(layout: bpy.types.UILayout, prefs: Any) -> None:
    """The licences the artist accepted (remembered), each with a button to withdraw it."""
    for key in prefs.accepted_licence_keys():
        names = {entry.licence.key: entry.licence.name for entry in protocol.MODEL_LICENCES.values()}
        row = layout.row()
        row.label(text=f"Accepted: {names.get(key, key)}", icon="CHECKMARK")
        row.operator("img23d.licence_withdraw", text="", icon="X").key = key


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        while len(paragraph) > width:
            cut = paragraph.rfind(" ", 0, width)
            cut = cut if cut > 0 else width
            lines.append(paragraph[:cut])
            paragraph = paragraph[cut:].lstrip()
        lines.append(paragraph)
    return lines


def draw_remote(box: bpy.types.UILayout, prefs: Any) -> None:
    """The SSH backend's fields; authentication and host keys are the system ssh's own."""
    row = box.row(align=True)
    row.prop(prefs, "ssh_host")
    row.prop(prefs, "ssh_port")
    box.prop(prefs, "ssh_python")
    box.prop(prefs, "ssh_runs_dir")
    box.prop(prefs, "ssh_config")
    box.label(text="Logs in with your ssh keys or agent (no password is stored); run folders come back to the "
                   "Runs Folder below", icon="INFO")
