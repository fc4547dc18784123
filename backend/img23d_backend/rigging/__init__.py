"""Rigging: skeletons and skin weights for a mesh."""
