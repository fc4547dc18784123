"""Step1X-3D's texture model (StepFun, Apache-2.0) in img23d's own code: the licence-clean family's
multiview painter, SDXL base 1.0 (CreativeML Open RAIL++-M) with Step1X-3D's multiview adapter
(built on MV-Adapter, Apache-2.0) and the fp16-fix SDXL VAE (MIT).

Written from upstream's code (stepfun-ai/Step1X-3D ``step1x3d_texture/``, huanngzh/MV-Adapter)
on diffusers' and transformers' own classes; nothing of upstream's renderers (nvdiffrast,
pytorch3d, Hunyuan3D's rasterizer) is used, nor img23d's port of Hunyuan3D's rasterizer
(``raster``) or of its hole filling (``uv.fill``): the family's own rasterizer
(``clean_raster``, written from the textbook method) makes the control maps, and the views are
baked into the mesh's UVs by img23d's own projection and hole filling (``atlas_fill``).

  folders     the three repositories, their pinned revisions and the files read from each
  attention   the adapter's attention processor: multiview row/column and reference attention
  loader      the networks built on the meta device and their weights read into place, strictly
  prompt      SDXL's two-encoder text conditioning and micro-conditioning
  scheduler   upstream's DDPM over SDXL's schedule with its SNR shifted by 8
  conditions  the reference picture and the control maps, prepared as upstream prepares them
  generate    the sampler: six control maps and a reference in, six RGB views out
  sync        upstream's texture sync: the first half of the steps taken on a latent texture, seeded
  uv_latents  that latent texture: the views' latents baked into the mesh's UVs and rendered back
  cameras     upstream's six orthographic cameras and mesh frame, as matrices for ``clean_raster``
  render      the mesh's position, normal and coverage maps in those cameras
  bake        six views into the mesh's UV texture with upstream's weights, holes filled
  atlas_fill  the texels no view painted: pull-push inside each UV chart, the gutter padded
  paint       the chain: a mesh and a cut-out in, the textured mesh out (``paint_mesh``)
  replica     the three repositories' random-weight replicas, tiny or full size
"""
