"""The parts models: one object's parts as separate meshes, from a picture, a mesh, or both with a mask.

  autopartgen    AutoPartGen (FAIR Noncommercial Research License: code, weights and outputs)

Shaped like ``materials/``: one folder per model.
"""
