"""The clean texture model's tiny replica in the tests: its three folders read as one model, and the
cut-out the texture tests paint from."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from img23d_backend.families.step1x.texture import replica
from img23d_backend.families.step1x.texture_folders import DEFAULT_VARIANT, TextureFolders


def texture_folders(root: Path, variant: str | None = DEFAULT_VARIANT) -> TextureFolders:
    """The model's folders in ``root``, where ``replica.build`` wrote them (SDXL, its VAE, Step1X-3D's adapter)."""
    return TextureFolders.from_snapshots(root / replica.SDXL_FOLDER, root / replica.VAE_FOLDER,
                                         root / replica.STEP1X_FOLDER, variant=variant)


def red_cutout() -> Image.Image:
    """A 200 x 100 cut-out: a red box on a transparent background."""
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((200, 40, 30, 255), (50, 20, 150, 60))
    return image
