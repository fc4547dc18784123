"""The artist hears when the grounding model's answer was cut off by its token budget: Detect's and
Generate's reports say so in one sentence, from the backend's result (a stand-in backend sends the
result the real one sends; tests/backend/grounding/test_grounding_shapes.py proves the real one sends it)."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy")

from fault_support import _fake_python, _prefs  # noqa: E402

CUT_OFF = "The grounding model's answer was cut off at 868 tokens: names after the cut may be missing"


def test_detect_says_the_answer_was_cut_off(addon, scene, fresh_backend, tmp_path, capfd) -> None:
    _prefs().python_path = str(_fake_python(tmp_path, "cut_off"))
    scene.img23d.targets = "house, chimney"
    capfd.readouterr()
    assert bpy.ops.img23d.detect() == {"FINISHED"}
    out = capfd.readouterr().out
    assert f"Warning: Found: house (1); not found: chimney. {CUT_OFF}" in out


def test_generate_says_the_answer_was_cut_off(addon, scene, fresh_backend, tmp_path, capfd) -> None:
    _prefs().python_path = str(_fake_python(tmp_path, "cut_off"))
    capfd.readouterr()
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    out = capfd.readouterr().out
    assert "house" in bpy.data.objects and f"Warning: {CUT_OFF}" in out
