"""MoGe-2 ViT-S with normals: its row (model), code (estimator), network (network, dinov2), checkpoint reading
(checkpoint), camera recovery (geometry) and random-weight replica (replica)."""
