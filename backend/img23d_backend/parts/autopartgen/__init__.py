"""AutoPartGen (facebookresearch/AutoPartGen, weights facebook/autopartgen), written in img23d's own torch:
config (sizes), blocks, dit, vae, conditioner, sampling (surface points, farthest-point sampling),
weights (reading checkpoints), loader, replica."""
