"""Remote-code files copied into the full-size BiRefNet stand-in folder (see bench/full_size_models.py)."""
