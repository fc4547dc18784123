"""Step1X-3D geometry (StepFun, Apache-2.0) in img23d's own code: the licence-clean shape family.

Written from the paper, the published configs and the architecture as upstream's code builds it
(stepfun-ai/Step1X-3D), never by running or copying that code: its ``volume_decoders.py`` carries a
Tencent licence header and its preprocessing calls rembg's non-commercial "bria" model. Module and
parameter names follow upstream's, because the published safetensors are keyed by them.

  configs         each part's config.json, read into dataclasses; DINOv2-with-registers' sizes
  denoiser        the Flux-style 1-D transformer (diffusers' Apache-2.0 Flux blocks)
  shape_decoder   the perceiver VAE's decoder half: latent tokens to a field at query points, put
                  together from the shared blocks of ``neural/`` (Michelangelo's layout)
  visual_encoder  DINOv2 with registers, and the cut-out prepared as the model was trained
  volume          the hierarchical grid query and marching cubes
  loader          the folder read straight into meta-built modules (the fast loader)
  generate        the rectified-flow sampler: cut-outs in, one mesh per cut-out out
  stage           a job's shape settings read into the sampler's (the family interface's sampler)
  replica         the geometry and Label folders' random-weight replicas, tiny or full size
"""
