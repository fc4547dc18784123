"""The kinds of file an ``artifact`` event announces (its ``kind``)."""

from __future__ import annotations

from enum import Enum


class ArtifactKind(str, Enum):
    """What an ``artifact``'s file is. A str, so a kind compares equal to the string on the wire, and
    an add-on keeps a kind a newer backend adds as a plain string (it shows nothing for it)."""

    RUN = "run"                      # the job's run folder, first of all
    DETECTIONS = "detections"        # the grounding's detections.json
    OVERLAY = "overlay"              # the picture with the boxes drawn
    LAYOUT = "layout"                # the manifest, once it holds every target's depth statistic
    MESH = "mesh"                    # one object's GLB (its low mesh when finished)
    HIGH_MESH = "high_mesh"          # a finished object's generated (high) mesh, announced before its low one
    TEXTURE = "texture"              # Re-texture's painted texture
    UVS = "uvs"                      # Re-texture's new UVs, for a mesh that had none
    METALLIC_ROUGHNESS = "metallic_roughness"  # (1.16) Re-texture's metallicRoughness texture (G roughness, B metallic)
    COMPLETION = "completion"        # (1.17) Detect's completion.png: each target's cut-out beside its completed one
    SPLATS = "splats"                # (1.20) an object's Gaussian splats, <stem>.splat.ply beside its GLB
    PART = "part"                    # (1.22) one part of an object Generate made in parts too (its target: the object)
    PICTURE = "picture"              # (1.25) a picture made from a prompt (Make Picture's, or a Generate's from a prompt)
