"""Random-weight replicas of the models the chain uses, built offline in the real folder layouts.

The production loaders open these folders with exactly the calls they use for the real
weights. ``build`` builds and finds the tiny set (``python -m img23d_backend.replicas``).
This package imports the model registry; the registry never imports it.
"""
