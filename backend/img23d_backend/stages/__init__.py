"""The chain's stages, each importing torch lazily: crop and cutout (each target's crop, its cut-out kept in its
box), mesh/ (the shape model, the clean-up, the CPU tail), paint/ (Hunyuan3D-Paint, the UV unwrap, the fill,
re-texturing), completion/ (a hidden target completed by the image editor), and skips (a texture or depth stage
the job went on without). The models every job uses have rooms of their own: grounding/, matting/, depth/."""
