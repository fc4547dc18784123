"""sRGB encoding and linear light, as glTF names them (the IEC 61966-2-1 curve): what an 8-bit image
or a PLY's colours hold (sRGB-encoded) against what glTF's factors and ``COLOR_0`` hold (linear).

numpy is imported where it is used: ``readers.meshes`` is imported by the CLI, which starts light.
"""

from __future__ import annotations

from typing import Any


def srgb_to_linear(values: Any) -> Any:
    """sRGB-encoded 0..1 values (a numpy array) to linear light."""
    import numpy as np

    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: Any) -> Any:
    """Linear-light 0..1 values (a numpy array) to sRGB encoding (the inverse of ``srgb_to_linear``)."""
    import numpy as np

    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)
