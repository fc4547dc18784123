"""The add-on's side of the conversation with the backend. No bpy in this package.

``process`` is the one place that spawns the backend; ``session`` keeps its state
(stopped / starting / ready / busy / error), restarts it after a crash and turns its
output into events for the main thread.
"""
