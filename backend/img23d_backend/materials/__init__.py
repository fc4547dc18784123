"""The material models: roughness and metallic maps from an object's painted views.

  material    the interface: ``MaterialRow`` (a model's facts), ``MaterialModel`` (its code), ``MaterialMaps``
  table       the material models by choice name, each folder's row or code imported on first use
  driver      ``material_maps``: through the model manager, a failure said in one sentence
  memory      one view's need, and the check beside the loaded model
  costs       the material step's seconds on this device
  marigold    Marigold-IID-Appearance v1.1

Nothing outside this room names a material model (tests/test_model_rooms_boundary.py).
"""
