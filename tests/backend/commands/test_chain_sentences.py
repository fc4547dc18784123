"""The re-texture command's line about the sides' pictures (issue 66): it names the sides used, and
with none used says so, never "the pictures of its no side"."""

from __future__ import annotations

from img23d_backend.commands.chain import views_sentence


def test_the_sides_used_are_named() -> None:
    assert views_sentence(["front", "back"]) == "coloured from the pictures of its front, back"


def test_no_side_used_is_said_as_a_sentence() -> None:
    said = views_sentence([])
    assert said == "coloured from none of the pictures given: each side's was left out"
    assert "no side" not in said
