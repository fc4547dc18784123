"""Operators: thin adapters that read the scene's inputs, call the client, and report."""

from . import (backend, detect, generate, help, import_host_run, import_run, install, make_picture, menus, models,
               parts, print_selected,
               regenerate, relayout, retexture, retopo, rig, run_pictures, splats, suggest, variations, views)

classes = (*generate.classes, *detect.classes, *suggest.classes, *backend.classes, *import_run.classes,
           *import_host_run.classes, *relayout.classes, *install.classes, *models.classes, *retexture.classes,
           *retopo.classes, *regenerate.classes, *variations.classes, *run_pictures.classes, *help.classes,
           *views.classes, *splats.classes, *parts.classes, *rig.classes, *make_picture.classes,
           *print_selected.classes)
