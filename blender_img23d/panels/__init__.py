"""Panels: draw() only. They read state; they never block, touch files or start processes."""

from . import main, printing

classes = (*main.classes, *printing.classes)
