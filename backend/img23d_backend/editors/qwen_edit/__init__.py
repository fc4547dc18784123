"""Qwen-Image-Edit-2511, the large image editor: model (its row), parts, phases, editor (its code), replica."""
