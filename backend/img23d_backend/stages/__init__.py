"""The chain's stages, each importing torch lazily: grounding/ (one box per name from Qwen3-VL),
crop, matting, cutout and foreground (each target's cut-out), mesh/ (the shape model, the clean-up,
the CPU tail), paint/ (Hunyuan3D-Paint, the UV unwrap, the fill, re-texturing), depth, completion/ (a hidden
target completed by the image editor), and skips (a texture or depth stage the job went on without)."""
