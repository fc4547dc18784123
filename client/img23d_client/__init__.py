"""The add-on's side of the conversation with the backend. No bpy in this package.

A package of its own beside the add-on (``client/`` in the repository; a wheel in the extension,
which Blender installs), so that tests, the installer's command line and an SSH host import it by
its name without Blender. It also holds what the add-on reads of a run (``run_layout``) and where
the add-on's shipped files are (``paths``).

``process`` is the one place that spawns the backend; ``session`` keeps its state
(stopped / starting / ready / busy / error), restarts it after a crash and turns its
output into events for the main thread.
"""
