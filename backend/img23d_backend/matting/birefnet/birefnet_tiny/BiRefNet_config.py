"""Configuration for the tiny BiRefNet stand-in (img23d test replica, not the real BiRefNet).

The file and class names mirror the real repository's remote code so that the same
``auto_map`` entries resolve; the fields are what the tiny network needs.
"""

from transformers import PretrainedConfig


class BiRefNetConfig(PretrainedConfig):
    # Same model_type string as the real remote code, so config.json looks alike.
    model_type = "SwinUNet"

    def __init__(self, bb_pretrained=False, channels=(8, 16, 16), **kwargs):
        # bb_pretrained: kept for parity with the real config (which must not fetch a backbone).
        self.bb_pretrained = bb_pretrained
        # channels: widths of the stem and the two downsampling stages.
        self.channels = list(channels)
        super().__init__(**kwargs)
