"""Pipeline stages: grounding, crop, matting, shape, clean-up. Each imports torch lazily."""
