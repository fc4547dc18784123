"""FLUX.2 [klein] 4B, the default image editor: model (its row), parts, phases, editor (its code), replica."""
