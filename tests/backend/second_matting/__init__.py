"""Luma Key, a test-only second matting model: every pixel darker than its threshold is the object's. Its folder
is what a real second matting model's is (``matting/<model>/``: ``model.py`` with its rows, ``matter.py`` with its
code and replica); tests/backend/matting/test_role_matting_second.py registers it."""
