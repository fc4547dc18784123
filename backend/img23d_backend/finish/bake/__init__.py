"""The bake: a high mesh's colour and a tangent-space normal map (MikkTSpace) onto a low mesh's new UVs."""

from .pipeline import BakedMesh, BakeSettings, BakeStats, BakeTimings, bake

__all__ = ["BakedMesh", "BakeSettings", "BakeStats", "BakeTimings", "bake"]
