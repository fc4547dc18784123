"""img23d backend: turns an image and a list of names into one 3D mesh per name.

Runs in its own Python environment (torch, transformers, hy3dgen) and talks to Blender
over JSON lines on stdin/stdout; see ``protocol`` for the wire format.
"""

__version__ = "0.1.0"
