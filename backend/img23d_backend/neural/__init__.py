"""Neural blocks that more than one model is built from, in the layouts their checkpoints' keys name.

A model imports these rather than writing its own: the attribute names are the state-dict keys, so a
block here keeps the names every checkpoint that uses it was saved with. Torch is imported at the top of
each module; nothing that the command line or a model's row (``specs``, ``config``) imports at start
reaches this room.

  fourier         a point's Fourier features (xyz, sin, cos of 2^k xyz): Michelangelo's and TripoSG's
  perceiver       Michelangelo's layout (c_qkv, c_kv, c_proj; ln_1-3; mlp.c_fc): the Step1X-3D shape
                  decoder's and SkinTokens' shape encoder's attention, MLP and residual blocks
  triposg         diffusers' Attention layout with TripoSG's head split (to_q/k/v, to_out.0, norm_cross,
                  ff.net): AutoPartGen's DiT and VAE, SkinTokens' skin VAE
  point_sampling  farthest-point sampling in torch (AutoPartGen's VAE queries, SkinTokens' queries)
"""
