"""The mesh of each target, what every family shares: its clean-up (cleanup, repair, holes, smoothing) and the CPU tail that finishes each target (tail). The shape models are in ``families``."""
