"""--complete-hidden on the command line: generate and batch take it into the job's options; re-texture
(one reference picture, no neighbours to hide it) has no such flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from testdata import HOUSE
from img23d_backend.commands import cli
from img23d_backend.commands.cli import build_parser, check_arguments


def _parsed(tmp_path: Path, *flags: str):
    args = build_parser().parse_args(["generate", str(HOUSE), "--targets", "house, barrel", "--models", "tiny",
                                      "--out", str(tmp_path), *flags])
    check_arguments(args)
    return args


def test_generate_completes_nothing_unless_asked(tmp_path: Path) -> None:
    assert _parsed(tmp_path).options.complete_hidden == "never"
    for choice in ("auto", "always", "never"):
        assert _parsed(tmp_path, "--complete-hidden", choice).options.complete_hidden == choice


def test_another_choice_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _parsed(tmp_path, "--complete-hidden", "sometimes")
    assert caught.value.code == 2
    assert "--complete-hidden: invalid choice: 'sometimes'" in capsys.readouterr().err


def test_batch_takes_it_and_retexture_does_not(tmp_path: Path) -> None:
    parser = build_parser()
    batch = parser.parse_args(["batch", str(HOUSE), "--out", str(tmp_path), "--complete-hidden", "auto"])
    assert batch.complete_hidden == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["retexture", "mesh.glb", str(HOUSE), "--complete-hidden", "auto"])


def test_the_edit_size_is_the_editors_own_unless_given_and_out_of_range_is_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _parsed(tmp_path).options.edit_size == 0  # the editor's own area
    assert _parsed(tmp_path, "--complete-hidden", "auto", "--edit-size", "512").options.edit_size == 512
    for wrong in ("100", "4096"):
        code = cli.main(["generate", str(HOUSE), "--models", "tiny", "--out", str(tmp_path), "--edit-size", wrong])
        err = capsys.readouterr().err
        assert code == 2 and f"error: --edit-size {wrong} is out of range: it must be" in err and "2,048" in err
        assert not any(tmp_path.iterdir())  # refused before anything was made
