"""Tencent's Hunyuan3D-2 family (hy3dgen; Tencent Hunyuan 3D 2.0 Community License).

  family              the family's ``Family``: its loaders, sampler, memory and warm-up imports
  shape               the shape stage: the DiT sampler, batched, and its loader
  shape_decode        latents to meshes: the VAE's volume decoding, dense or FlashVDM
  hy3dgen_fixes       corrections to hy3dgen 2.0.2's shape pipeline, applied where it is loaded and run
  paint               Hunyuan3D-Paint: a mesh and its cut-out in, the textured mesh out
  paint_models        its two texture models (delight, multiview) on any device
  turbo               Hunyuan3D-Paint-v2-0-Turbo's loader and denoising loop
  position_attention  the turbo model's position-guided multiview attention
  shape_replica       the shape model's random-weight replica (DiT folder and FlashVDM VAE), tiny or full size
  paint_replica       the delight and paint models' random-weight replicas, tiny or full size
"""
