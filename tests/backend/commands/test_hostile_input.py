"""Bad input, tried as a hostile user would: through the command line, the protocol and the loader.

Each case either works as a user would expect or ends with one clear sentence and an error
code: never a traceback, never a file outside the run folder, never an earlier run overwritten.
The cheap cases run in-process (argument checks, protocol decoding, option validation); the
ones that need a real job share one backend subprocess.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from cli_inprocess import run_cli
from img23d_backend.commands import cli
from img23d_backend.commands.shown_text import ShownStream, shown_output
from img23d_protocol import OPTION_RANGES, REQUEST_TYPES, ErrorCode, JobOptions, ProtocolError, check_budget_gb, decode
from testdata import HOUSE


def test_generate_help_gives_each_options_range(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("seed", "steps", "octree_resolution", "guidance_scale", "face_budget", "shape_batch",
                   "texture_size", "paint_steps", "delight_steps"):
        assert OPTION_RANGES[option].describe() in text, option
    assert "--texture-size TEXTURE_SIZE side of the baked texture in pixels: a power of two from 64 to 8,192" in text


# --- options on the command line: exit 2, one sentence naming the option and its range, nothing made ---

USAGE_ERRORS = [
    # (arguments after "generate IMAGE", words the message must contain)
    (["--out", ""], ["--out", "empty"]),
    (["--out", "   "], ["--out", "empty"]),
    (["--budget-gb", "nan"], ["--budget-gb", "0.25 to 1024"]),
    (["--budget-gb", "inf"], ["--budget-gb", "0.25 to 1024"]),
    (["--budget-gb=-inf"], ["--budget-gb", "0.25 to 1024"]),
    (["--budget-gb", "0"], ["--budget-gb", "0.25 to 1024"]),
    (["--budget-gb", "-3"], ["--budget-gb", "0.25 to 1024"]),
    (["--budget-gb", "1e9"], ["--budget-gb", "0.25 to 1024"]),
    (["--budget-gb", "lots"], ["--budget-gb", "invalid float"]),
    (["--models", "tiny", "--shape", "3.0"], ["--shape", "invalid choice", "2mini"]),
    (["--models", "tiny", "--matting", "u2net"], ["--matting", "invalid choice", "birefnet"]),
    (["--models", "tiny", "--grounding", "70b"], ["--grounding", "invalid choice", "2b"]),
    (["--models", "huge"], ["--models", "invalid choice"]),
    (["--texture-size", "1000"], ["--texture-size", "power of two from 64 to 8,192"]),
    (["--texture-size", "0"], ["--texture-size", "power of two"]),
    (["--texture-size", "16384"], ["--texture-size", "power of two"]),
    (["--octree-resolution", "2000"], ["--octree-resolution", "16 to 1,024"]),
    (["--octree-resolution", "-256"], ["--octree-resolution", "16 to 1,024"]),
    (["--steps", "-1"], ["--steps", "0 (the shape model's own) or 1 to 200"]),
    (["--steps", "1000000"], ["--steps", "1 to 200"]),
    (["--paint-steps", "-1"], ["--paint-steps", "0 (the paint model's own) or 1 to 200"]),
    (["--delight-steps", "999"], ["--delight-steps", "1 to 200"]),
    (["--seed", "-1"], ["--seed", "0 to 9,223,372,036,854,775,807"]),
    (["--seed", str(2**64)], ["--seed", "0 to"]),
    (["--seed", "1.5"], ["--seed", "must be a whole number or 'random'"]),
    (["--face-budget", "50"], ["--face-budget", "0 (keep every face) or 100 to 5,000,000"]),
    (["--guidance", "nan"], ["--guidance", "0 (the shape model's own) or more, up to 50"]),
    (["--guidance", "-1"], ["--guidance", "0 (the shape model's own) or more, up to 50"]),
    (["--shape-batch", "-1"], ["--shape-batch", "0 (all at once) or 1 to 64"]),
    (["--targets", "door, Door"], ["asked for twice", "--all-instances on the command line"]),  # a flag it has
    (["--targets", "x" * 300], ["300 characters", "at most 200"]),
    (["--targets", "door\x1b[31m"], ["control characters"]),
    (["--targets", "door\u202ekcab"], ["invisible or line-breaking character (U+202E RIGHT-TO-LEFT OVERRIDE)"]),
    (["--targets", "red\u2028barrel"], ["(U+2028 LINE SEPARATOR)"]),
    (["--targets", ",".join(f"n{i}" for i in range(40))], ["at most 32 names"]),
]


@pytest.mark.parametrize("extra, words", USAGE_ERRORS, ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else "")
def test_a_wrong_command_line_exits_2_with_one_sentence_and_makes_nothing(
        extra: list[str], words: list[str], tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # an empty --out would land here
    out = tmp_path / "runs"
    argv = ["generate", str(HOUSE), "--out", str(out), *extra]
    said = run_cli(capsys, *argv)
    code, err = said.returncode, said.stderr
    assert code == 2, err
    assert "Traceback" not in err
    [sentence] = [line for line in err.splitlines() if "error:" in line]
    assert all(ch.isprintable() or ch in "\n\t" for ch in err), f"printed raw: {err!r}"
    for word in words:
        assert word in sentence, sentence
    assert list(tmp_path.iterdir()) == [], "a usage error must create nothing"


@pytest.mark.parametrize("command, targets, words", [
    ("detect", "", "detect needs at least one name in --targets"),
    ("detect", " , ,", "--targets holds only commas and spaces"),
    ("generate", ",,,,", "--targets holds only commas and spaces"),
    ("generate", " ,\t, ", "--targets holds only commas and spaces"),
])
def test_names_that_are_only_separators_exit_2_before_making_a_run_folder(command: str, targets: str, words: str,
                                                                          tmp_path: Path, capsys) -> None:
    said = run_cli(capsys, command, str(HOUSE), "--targets", targets, "--out", str(tmp_path / "runs"))
    code, err = said.returncode, said.stderr
    assert code == 2 and words in err
    assert not (tmp_path / "runs").exists()


def test_an_output_path_that_is_a_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    said = run_cli(capsys, "generate", str(HOUSE), "--out", str(a_file))
    code, err = said.returncode, said.stderr
    assert code == 2 and f"--out {a_file} is a file, not a folder" in err
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize("command, suffix", [("detect", ".png"), ("generate", ".png"), ("retopo", ".glb"),
                                             ("rig", ".glb")])
def test_a_file_name_that_is_not_utf8_exits_2_in_one_sentence(command: str, suffix: str, tmp_path: Path,
                                                              capsys) -> None:
    """A Latin-1 'café' (an old archive, a Samba share) arrives with a lone surrogate: every command that records
    its input in a run ended in a traceback (UnicodeEncodeError)."""
    name = os.fsdecode(b"caf\xe9" + suffix.encode())
    path = tmp_path / name
    path.write_bytes(HOUSE.read_bytes())
    said = run_cli(capsys, command, str(path), *(["--targets", "house"] if command in ("detect", "generate") else []),
                   "--out", str(tmp_path / "runs"))
    assert said.returncode == 2 and "Traceback" not in said.stderr
    assert "is not UTF-8 text (a name from another system's encoding): rename it" in said.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["generate", "detect", "retexture", "retopo"])
def test_a_mistyped_picture_is_one_sentence_before_anything_loads(command: str, tmp_path: Path, capsys) -> None:
    """generate and detect loaded the models and made a run folder to say 'image_unreadable' (exit 1)."""
    mesh = Path(__file__).parents[3] / "examples" / "house_mesh.glb"
    missing = tmp_path / "no-such-picture.png"
    given = [str(missing), "--targets", "house"] if command in ("generate", "detect") else [str(mesh), str(missing)]
    said = run_cli(capsys, command, *given, "--out", str(tmp_path / "runs"))
    assert said.returncode == 2 and f"no picture file at {missing}" in said.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("command", ["generate", "retexture"])
def test_a_request_the_model_refuses_exits_2_in_every_command(command: str, tmp_path: Path, capsys) -> None:
    """A symmetry the shape model cannot take is found once the engine is up: generate exited 1 where retexture
    exited 2, for the same wrong input (docs/cli.md: 2 for a wrong command line)."""
    mesh = Path(__file__).parents[3] / "examples" / "house_mesh.glb"
    given = [str(HOUSE), "--targets", "house"] if command == "generate" else [str(mesh), str(HOUSE)]
    said = run_cli(capsys, command, *given, "--symmetry", "x", "--models", "tiny", "--device", "cpu",
                   "--out", str(tmp_path / "runs"))
    assert said.returncode == 2 and "symmetry and sharpness need a shape model that takes labels" in said.stderr


# --- the same ranges on the wire: bad_request, naming the option and its range ----------------------

@pytest.mark.parametrize("name, value", [
    ("texture_size", 1000), ("texture_size", 3), ("octree_resolution", 4096), ("seed", -7), ("steps", 10**9),
    ("shape_batch", 1000), ("render_size", 10), ("guidance_scale", 1e308), ("face_budget", -1),
])
def test_out_of_range_options_on_the_wire_name_the_range(name: str, value: object) -> None:
    line = json.dumps({"v": 1, "type": "generate", "id": "x", "image": "a.png", "options": {name: value}})
    with pytest.raises(ProtocolError) as excinfo:
        decode(line, REQUEST_TYPES)
    assert excinfo.value.code is ErrorCode.BAD_REQUEST
    assert f"option {name}=" in excinfo.value.message
    assert OPTION_RANGES[name].describe() in excinfo.value.message


def test_every_range_admits_its_own_ends_and_refuses_just_outside() -> None:
    for name, allowed in OPTION_RANGES.items():
        kind = type(getattr(JobOptions(), name))
        for value in (allowed.low, allowed.high):
            JobOptions(**{name: kind(value)}).validate()
        below = kind(allowed.low) - (1 if kind is int else 0.01)
        if not (allowed.zero_means and below == 0):
            with pytest.raises(ProtocolError, match=f"option {name}="):
                JobOptions(**{name: below}).validate()
        with pytest.raises(ProtocolError, match=f"option {name}="):
            JobOptions(**{name: kind(allowed.high) + (1 if kind is int else 0.01)}).validate()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -1.0, 0.1, 2048.0, "8", True])
def test_a_budget_out_of_range_is_refused(value: object) -> None:
    with pytest.raises(ProtocolError, match="budget_gb"):
        check_budget_gb(value)  # type: ignore[arg-type]


def test_a_budget_in_range_passes() -> None:
    assert check_budget_gb(None) is None
    assert check_budget_gb(0.25) == 0.25 and check_budget_gb(12) == 12.0


def test_the_command_line_checks_are_the_protocols(monkeypatch, tmp_path: Path, capsys) -> None:
    """One table: narrowing a range in protocol.py narrows the command line with it."""
    import img23d_protocol as protocol

    monkeypatch.setitem(protocol.OPTION_RANGES, "steps", protocol.Allowed(1, 5))
    said = run_cli(capsys, "generate", str(HOUSE), "--out", str(tmp_path), "--steps", "6")
    code, err = said.returncode, said.stderr
    assert code == 2 and "--steps 6 is out of range: it must be 1 to 5" in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("odd, escaped", [("\u202e", "\\u202e"), ("\u2028", "\\u2028"), ("\u200b", "\\u200b"),
                                          ("\x1b[2J", "\\u001b[2J"), ("\U000e0067", "\\udb40\\udc67")])
def test_a_file_name_is_printed_with_its_invisible_characters_escaped(odd: str, escaped: str, tmp_path: Path,
                                                                      capsys) -> None:
    # --accept-long: the default models' material step on a CPU may be estimated at an hour or more,
    # a question asked before the picture is read; the name's escaping is this test's.
    said = run_cli(capsys, "generate", str(tmp_path / f"house{odd}gnp.png"), "--out", str(tmp_path / "runs"),
                           "--accept-long")
    code, err = said.returncode, said.stderr
    assert code != 0
    assert all(ch.isprintable() or ch == "\n" for ch in err), f"printed raw: {err!r}"
    assert f"house{escaped}gnp.png" in err, err


def test_machine_lines_stay_json_meaning_the_same(capsys) -> None:
    with shown_output():
        print(json.dumps({"image": "a\u2028b\U000e0067.png"}, ensure_ascii=False))
    out = capsys.readouterr().out
    assert out.isascii() and json.loads(out) == {"image": "a\u2028b\U000e0067.png"}


def test_a_shown_stream_closed_after_its_stream_was_says_nothing(monkeypatch) -> None:
    """A command's stdout wrapper kept past main() (in a job's garbage) is closed when collected, after the
    stream it wraps may have been closed by its owner: its flush raised ValueError (Python 3.13 reported it
    as unraisable; an explicit close raised it)."""
    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    inner = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # as pytest's capture is (a StringIO never minds)
    for close in ("explicitly", "when collected"):
        wrapper = ShownStream(inner if close == "explicitly" else io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
        wrapper.write("done\n")
        wrapper.flush()
        wrapper.stream.close()
        if close == "explicitly":
            wrapper.close()
            assert wrapper.closed
        del wrapper  # the last reference: collected, and closed, here
    assert reported == []


def test_an_argument_with_a_lone_surrogate_of_any_kind_is_one_sentence() -> None:
    """A lone high surrogate (an NTFS name's unpaired UTF-16 half) is not one Python's surrogateescape made: showing
    it with that handler raised UnicodeEncodeError inside the check meant to say it in one sentence."""
    import argparse

    refused = cli._not_utf8(argparse.Namespace(command="generate", image=Path("\ud800x.png"), view=[]))
    assert refused is not None and refused.message == \
        "'\\\\ud800x.png' is not UTF-8 text (a name from another system's encoding): rename it"


@pytest.mark.parametrize("argv, sentence", [
    (("generate", str(HOUSE), "--smoothing", "1.5"), "argument --smoothing: invalid int value: '1.5'"),
    (("generate", str(HOUSE), "--face-budget", "abc"), "argument --face-budget: invalid int value: 'abc'"),
    (("batch", "pictures", "--workers", "two"), "argument --workers: invalid int value: 'two'"),
    (("generate", str(HOUSE), "--matting", "best"), "argument --matting: invalid choice: 'best'"),
    (("detect", str(HOUSE), "--targets", "house", "--all-instances"), "unrecognized arguments: --all-instances")])
def test_an_argument_argparse_refuses_is_one_sentence(capsys, argv: tuple[str, ...], sentence: str) -> None:
    """argparse's own refusals (a word for a number, a choice not offered) printed the command's whole usage
    block, some forty lines, before the sentence: one line now, naming where the options are listed."""
    said = run_cli(capsys, *argv)
    assert said.returncode == 2 and said.stdout == ""
    assert said.stderr.count("\n") == 1 and said.stderr.startswith(f"error: {sentence}"), said.stderr
    assert said.stderr.rstrip().endswith(f"`python -m img23d_backend {argv[0]} --help` lists the options)")
