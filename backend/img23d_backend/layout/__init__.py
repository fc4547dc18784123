"""Laying the objects out in depth: the scene's placement, re-layout of a finished run, the layout picture."""
