"""SkinTokens (VAST-AI; MIT code and weights): a skeleton and skin weights for a mesh from one model.

  config          sizes, token ids, the pinned files
  surface         the mesh fitted into [-1, 1], surface samples, farthest-point queries, weights to vertices
  embed           the skin VAE's phase embedding (bf16-rounded as upstream)
  shape_encoder   the perceiver over the samples (``mesh_encoder.*``), of neural/'s Michelangelo blocks
  skin_vae        the FSQ skin decoder (``vae.model.*``), of neural/'s TripoSG blocks
  model           TokenRig: the above around transformers' Qwen3 (``transformer.*``)
  grammar         the token grammar and its logit masks
  tokens          skeleton tokens to joints, parents and tails
  decoding        seeded beam search with sampling under the grammar
  weights         the Lightning checkpoint read without pickled code, converted once to safetensors
  loader          the folder to a module built on meta with its weights assigned
  pipeline        one mesh to one rig (``SkinTokensRig``)
  replica         random-weight folders in the real layout, tiny or full size (``REPLICA``)
  costs           a rig's time and memory here, before it starts (the preflight)
  rigger          its files (the hub's, pinned, or the tiny replica), its spec, its loader, one mesh rigged
  row             what the rigging room's table names: its ``Rigger`` and ``RigModel`` (rigging/rigger.py)
"""
