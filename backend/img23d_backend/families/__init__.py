"""The model families: the code that belongs to one family of shape and texture models.

  hunyuan3d   Tencent's Hunyuan3D-2 (hy3dgen): its shape stage and volume decoding, hy3dgen's fixes,
              Hunyuan3D-Paint (delight, multiview, turbo with position-guided attention)
  step1x      StepFun's Step1X-3D, the licence-clean family, in img23d's own code: its geometry
              (``step1x.geometry``) and its texture model over SDXL (``step1x.texture``)

What every family shares (crop, cut-out, matting, depth, clean-up, unwrap, UV helpers) lives in
``stages``, below this room. Moved here from ``stages/mesh``, ``stages/paint``, ``step1x`` and
``step1x_texture`` as they were (issue 45); the one interface the jobs call comes next.
"""
