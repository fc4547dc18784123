"""Depth: one pass of a monocular depth model over the picture (driver); one folder per model."""
