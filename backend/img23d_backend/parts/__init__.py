"""The parts models: one object's parts as separate meshes, from a picture, a mesh, or both with a mask.

  part          the request and its answer (``PartsRequest``, ``PartMesh``, ``PartProgress``)
  generator     the interface: ``PartsRow`` (a model's facts), ``PartGenerator`` (its code)
  table         the parts models by choice name, each folder's row or code imported on first use;
                ``parts_loader``, the model manager's loaders for the ``parts`` role
  costs         a run's seconds on this device, and its refusal when that is hours
  memory        each phase's need, and the check before a run
  autopartgen   AutoPartGen (FAIR Noncommercial Research License: code, weights and outputs)

Shaped like ``materials/``: one folder per model. Nothing outside this room names a parts model
(tests/test_model_rooms_boundary.py).
"""
