"""The model families: the code that belongs to one family of shape and texture models.

  family      the interface every family fills in (``Family``) and the backend calls
  table       the families by name (``FAMILIES``), and the family of a model (``family_of``); each
              entry names its family's module, imported only when a job asks for that family
  hunyuan3d   Tencent's Hunyuan3D-2 (hy3dgen): its shape stage and volume decoding, hy3dgen's fixes,
              Hunyuan3D-Paint (delight, multiview, turbo with position-guided attention)
  step1x      StepFun's Step1X-3D, the licence-clean family, in img23d's own code: its geometry
              (``step1x.geometry``) and its texture model over SDXL (``step1x.texture``)

What every family shares (crop, cut-out, matting, depth, clean-up, the shape settings, unwrap, UV
helpers) lives in ``stages``, below this room. This package's face imports nothing, and the table
imports a family only when it is asked for: importing one family never imports another, and a job
imports only its own models' families (the licence-clean family must not reach Tencent-derived code).
"""
