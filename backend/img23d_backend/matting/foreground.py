"""The cut-out's edge colours: the object's own colour, not the background's, where alpha is soft.

A pixel on a soft edge shows a mix of object and background: I = alpha F + (1 - alpha) B.
The matte says how much of each, but the cut-out's colour is still I, so the background
(green grass, a white wall) tints every semi-transparent pixel, and the paint stage bakes that
tint into the texture as a halo. Estimating F, the object's colour, fixes it.

The estimate is blur fusion (Forte & Pitié's "approximate fast foreground colour estimation",
the method BiRefNet's ``refine_foreground`` uses): box-blur the object's colours weighted by
alpha and the background's weighted by 1 - alpha, then give each edge pixel the colour that
explains what it shows, given those two local means. Two passes: a wide blur finds the
colours at all, a narrow one sharpens them near the edge. Box blurs cost the same whatever
their radius (OpenCV's running sums), so this takes a few tens of milliseconds on a 1k crop.

Opaque pixels keep their colour exactly (where alpha is 1 the formula gives I back, and they
are copied, not recomputed), and the alpha is never touched: the shape stage reads only the
matte, and it stays byte for byte what matting made.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# BiRefNet's radii (pixels), for its 1024 px matting resolution: the wide pass, then the narrow.
_RADII_AT_1024 = (90, 6)
_REFERENCE_SIZE = 1024
_MIN_RADIUS = 3       # a narrower box blur would average nothing beyond the edge pixel itself
_EPSILON = 1e-5       # keeps the weighted means finite where a blur saw no object (or no background)


def blur_radii(size: tuple[int, int]) -> tuple[int, int]:
    """The two blur radii for a crop of ``size``: BiRefNet's, and scaled up with crops over 1024 px.

    The matte comes from the model at 1024 px and is resized to the crop, so in a larger crop
    a soft edge is wider by the same factor, and so are the radii that must reach past it into
    the object. Smaller crops keep BiRefNet's radii (it applies them at any picture's own size):
    shrinking the wide one with the crop was measured to leave more of the background in the
    edge (a 256 px disc with a 12 px soft edge: green up to 96/255 at radius 22, 43 at 90).
    """
    scale = max(1.0, max(size) / _REFERENCE_SIZE)
    return tuple(max(_MIN_RADIUS, round(radius * scale)) for radius in _RADII_AT_1024)  # type: ignore[return-value]


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray, radii: tuple[int, ...] | None = None) -> np.ndarray:
    """The object's colour under every pixel, [H, W, 3] uint8, from ``rgb`` [H, W, 3] uint8 and
    ``alpha`` [H, W] uint8. Where alpha is 255 the result is ``rgb`` itself."""
    image = rgb.astype(np.float32) / 255.0
    a = (alpha.astype(np.float32) / 255.0)[..., None]
    foreground, background = image, image
    for radius in radii or blur_radii((rgb.shape[1], rgb.shape[0])):
        foreground, background = _blur_fusion(image, a, foreground, background, int(radius))
    estimated = (np.clip(foreground, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    opaque = alpha == 255
    estimated[opaque] = rgb[opaque]
    return estimated


def _blur_fusion(image: np.ndarray, a: np.ndarray, foreground: np.ndarray, background: np.ndarray,
                 radius: int) -> tuple[np.ndarray, np.ndarray]:
    """One pass: local alpha-weighted means of object and background colours, then the object
    colour that, mixed with that background by alpha, comes closest to the pixel."""
    import cv2  # here, not at the top: importing the jobs must not wait for OpenCV

    size = (radius, radius)
    blur = cv2.blur
    a_mean = blur(a[..., 0], size)[..., None]
    object_mean = blur(foreground * a, size) / (a_mean + _EPSILON)
    background_mean = blur(background * (1.0 - a), size) / ((1.0 - a_mean) + _EPSILON)
    # I = a F + (1 - a) B; correct the local object mean by what it fails to explain, times a.
    refined = object_mean + a * (image - a * object_mean - (1.0 - a) * background_mean)
    return np.clip(refined, 0.0, 1.0), background_mean


def refine_cutout(cutout: Image.Image) -> Image.Image:
    """``cutout`` (RGBA) with its colours replaced by the estimated foreground; alpha unchanged."""
    pixels = np.asarray(cutout.convert("RGBA"))
    alpha = pixels[..., 3]
    if alpha.min() == 255:  # nothing soft, nothing transparent: nothing to estimate
        return cutout.convert("RGBA")
    rgb = estimate_foreground(pixels[..., :3], alpha)
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def flattened(image: Image.Image) -> Image.Image:
    """RGB for a model: the transparent parts of an RGBA picture white, as on a studio backdrop (its transparent
    pixels are often stored black: converted as they are, the image editor was asked for a white background
    around a crop 44 % black)."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    backdrop = Image.new("RGB", image.size, (255, 255, 255))
    backdrop.paste(image, mask=image.getchannel("A"))
    return backdrop
