"""Depth Anything V2 Small: its random-weight replica (replica)."""
