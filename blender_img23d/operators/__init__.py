"""Operators: thin adapters that read the scene's inputs, call the client, and report."""

from . import backend, detect, generate, import_run, install, models, retexture

classes = (*generate.classes, *detect.classes, *backend.classes, *import_run.classes, *install.classes,
           *models.classes, *retexture.classes)
