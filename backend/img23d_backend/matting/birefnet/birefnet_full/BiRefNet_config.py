"""Configuration of the full-size BiRefNet stand-in (img23d benchmark replica, not BiRefNet).

File and class names mirror the real repository's remote code so the same ``auto_map``
entries resolve. The defaults are the sizes of BiRefNet's default (Swin-L) build: a
hierarchical windowed-attention encoder with Swin-L's widths, depths, heads and window, run on
the image and on its half-size copy, and a convolutional decoder with 64-channel bottlenecks.
"""

from transformers import PretrainedConfig


class BiRefNetConfig(PretrainedConfig):
    # Same model_type string as the real remote code, so config.json looks alike.
    model_type = "SwinUNet"

    def __init__(
        self,
        bb_pretrained=False,
        embed_dim=192,
        depths=(2, 2, 18, 2),
        num_heads=(6, 12, 24, 48),
        window_size=12,
        mlp_ratio=4.0,
        multi_scale_input=True,
        decoder_inner_channels=112,
        image_patch_channels=48,
        **kwargs,
    ):
        # bb_pretrained: kept for parity with the real config (which must not fetch a backbone).
        self.bb_pretrained = bb_pretrained
        self.embed_dim = embed_dim
        self.depths = list(depths)
        self.num_heads = list(num_heads)
        self.window_size = window_size
        self.mlp_ratio = mlp_ratio
        # Encode the image and its half-size copy, concatenating features per stage.
        self.multi_scale_input = multi_scale_input
        # Width of the bottleneck inside every decoder block.
        self.decoder_inner_channels = decoder_inner_channels
        # Channels of the raw-image patch features fed to every decoder stage.
        self.image_patch_channels = image_patch_channels
        super().__init__(**kwargs)
