"""The mesh of each target: the shape model (shape, shape_decode, hy3dgen_fixes), its clean-up (cleanup, repair, holes, smoothing) and the CPU tail that finishes each target (tail)."""
