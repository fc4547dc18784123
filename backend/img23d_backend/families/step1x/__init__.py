"""StepFun's Step1X-3D family in img23d's own code (Apache-2.0): the licence-clean family.

  family    the family's ``Family``: its loaders, sampler, precision, memory and warm-up imports
  geometry  the shape model: Flux-style denoiser, perceiver VAE decoder, hierarchical volume
  texture   the texture model: SDXL base 1.0 with Step1X-3D's multiview adapter
"""
