"""The parts models: one object's parts as separate meshes, from a picture, a mesh, or both with a mask.

  part          the request and its answer (``PartsRequest``, ``PartMesh``, ``PartProgress``)
  generator     the interface: ``PartsRow`` (a model's facts), ``PartGenerator`` (its code)
  table         the parts models by choice name, each folder's row or code imported on first use;
                ``parts_loader``, the model manager's loaders for the ``parts`` role
  costs         a run's seconds on this device, and its refusal when that is hours
  memory        each phase's need, and the check before a run
  driver        a parts model's steps as a job runs them: names made into a mask, the parts drawn, written
  record        one part as ``parts.json`` tells it, for each way of making parts
  scenes        parts as glTF scenes (one per part, and all together), each with its own flat colour
  indexed_mask  the artist's part mask, read and checked, and one made from cut-outs
  split         a mesh cut into named parts with no parts model: renders, votes on faces, labels, capped
                pieces, and its own driver
  autopartgen   AutoPartGen (FAIR Noncommercial Research License: code, weights and outputs)

Shaped like ``materials/``: one folder per model, and the room's own driver; the parts job (``jobs.kinds.parts``)
adapts a request to one of the two ways. Nothing outside this room names a parts model or imports its folder
(tests/test_model_rooms_boundary.py).
"""
