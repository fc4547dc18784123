"""AutoPartGen (facebookresearch/AutoPartGen, weights facebook/autopartgen), written in img23d's own torch:
config (sizes), blocks (the DiT's timestep embedding), dit, vae (both of neural/'s shared TripoSG blocks),
conditioner, sampling (surface points, thinned by neural/'s farthest-point sampling),
weights (reading checkpoints), loader, replica, guidance (scheduler and guided passes), denoise (one
latent), surface (decode, clean, overlap, frames), part_loop (``generate_parts``); model (its row: spec,
files, work, measured run, memory) and generator (the room's interface: part loaders, ``generate``, replica).

Licence: FAIR Noncommercial Research License v1, for the code, the weights and their outputs (the parts
it makes included). No revision of ``facebook/autopartgen`` is pinned yet: the repository is gated and
no public page read while writing this names a 40-hex commit of it, so none is given rather than one
invented (``model``'s docstring).
"""
