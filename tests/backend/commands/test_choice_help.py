"""Every model choice's ``--help`` is made from the protocol's rows of its room (issue 99), as matting's always was:
each choice's name, label and description, the words the add-on's menus show (``tables.rows_help``). The family,
shape, paint and editor help was written by hand and said what the rows did not (a shape's steps, an editor's
size), so a row changed or added went unsaid. The depth room's docstring names its rows as ``--depth`` offers them.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

import img23d_protocol as protocol
from img23d_backend.catalog import DEPTH, EDITORS, GROUNDING, MATTING, PAINT, SHAPE
from img23d_backend.commands import cli
from img23d_backend.depth import table as depth_table

# Each option, its rows in the protocol and the backend's choices (what argparse takes).
OPTIONS = {
    "--grounding": (protocol.GROUNDING_MODELS, GROUNDING),
    "--matting": (protocol.MATTING_MODELS, MATTING),
    "--depth": (protocol.DEPTH_MODELS, DEPTH),
    "--family": (protocol.MODEL_FAMILIES, protocol.MODEL_FAMILIES),
    "--shape": (protocol.SHAPE_MODELS, SHAPE),
    "--paint": (protocol.PAINT_MODELS, PAINT),
    "--editor": (protocol.IMAGE_EDITORS, EDITORS),
}


def _option(name: str) -> argparse.Action:
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return next(action for action in commands.choices["generate"]._actions if name in action.option_strings)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_each_model_choices_help_is_its_rows(name: str) -> None:
    rows, choices = OPTIONS[name]
    option = _option(name)
    assert list(option.choices) == list(choices)
    offered = [rows[choice] for choice in choices]
    said = protocol.rows_help("x", offered).removeprefix("x: ")
    assert said in option.help, option.help   # every choice, in the option's order, in the rows' words
    for row in offered:
        assert f"{row.name} ({row.label}, {row.description[:1].lower()}{row.description[1:]})" in option.help


def test_a_changed_row_changes_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """The help is the rows' at the time the parser is built: a row's new steps are said without touching the
    command line's code."""
    turbo = protocol.SHAPE_MODELS["2mini-turbo"]
    monkeypatch.setitem(protocol.SHAPE_MODELS, "2mini-turbo", dataclasses.replace(turbo, steps=7))
    assert "2mini-turbo (Hunyuan3D-2 mini turbo, runs 7 steps)" in _option("--shape").help


def test_the_depth_rooms_docstring_names_the_depth_options_rows() -> None:
    """Its first line said ``--depth`` before the option existed; now it names the option's rows, which a new row
    must add to."""
    assert list(_option("--depth").choices) == list(depth_table.DEPTH_PACKAGES)
    assert all(name in depth_table.__doc__ for name in depth_table.DEPTH_PACKAGES)
    assert "commands/common_options.py" in depth_table.__doc__
