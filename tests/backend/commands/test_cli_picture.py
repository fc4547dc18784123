"""``picture --prompt`` (issue 76 item 1): Make Picture on the command line, through the same job as the add-on's
(tests/backend/jobs/test_picture_job.py holds the job itself): the model's terms said first, each picture printed
with its seed, N to pick from with ``--variations``, the next command said; a bad argument one sentence, nothing
written; a Ctrl-C during the start-up stops it before any run folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from cli_inprocess import RunCli
from ctrl_c import stopped_during_start_up

PROMPT = "a wooden barrel"


def test_variations_print_each_picture_with_its_seed_and_the_next_step(cli: RunCli, tmp_path: Path) -> None:
    done = cli("picture", "--prompt", PROMPT, "--variations", "2", "--seed", "4", "--models", "tiny", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("the picture is made from the prompt by tiny/flux2-klein-4b")
    [folder] = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert folder.name.endswith("-wooden_barrel-picture")
    assert f"picture 1 (seed 4): {folder / 'input.png'}" in lines
    assert f"picture 2 (seed 5): {folder / 'input-v2.png'}" in lines
    assert Image.open(folder / "input-v2.png").size == (96, 96)
    assert lines[-1] == 'to make its objects: python -m img23d_backend generate PICKED.png --targets "..."'
    assert "making 2 pictures of 96 x 96 from the prompt" in done.stderr


def test_the_picture_after_the_top_seed_has_a_seed_that_can_be_given_again(cli: RunCli, tmp_path: Path) -> None:
    """From the top seed, picture 2 was said to have seed 2**63, which --seed then refused: it could not be made
    again. Seeds go on from 0 past the top."""
    top = str(2**63 - 1)
    done = cli("picture", "--prompt", PROMPT, "--variations", "2", "--seed", top, "--models", "tiny", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("picture 2 (seed 0): ") for line in done.stdout.splitlines()), done.stdout


@pytest.mark.parametrize("args, sentence", [
    (("--prompt", "  "), "the prompt holds only spaces"),
    (("--prompt", ""), "no prompt given"),
    # Issue 88: zero-width spaces alone made a picture from nothing
    (("--prompt", "\u200b\u200b \u2060"), "the prompt holds only invisible characters (such as U+200B ZERO WIDTH"),
    (("--prompt", PROMPT, "--variations", "9"), "variations"),
    (("--prompt", PROMPT, "--picture-size", "300"), "multiple of 16"),
])
def test_a_bad_argument_is_one_sentence_with_nothing_written(cli: RunCli, tmp_path: Path, args: tuple,
                                                             sentence: str) -> None:
    done = cli("picture", *args, "--models", "tiny", "--out", tmp_path)
    assert done.returncode == 2 and sentence in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.process  # its subject is the process's start-up (pytest.ini)
def test_ctrl_c_while_the_models_are_imported_stops_before_any_picture(backend_env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    """As generate's (test_cli.py): a Ctrl-C during the start-up says so in one line, exit 130, no run folder."""
    proc = subprocess.Popen([sys.executable, "-m", "img23d_backend", "picture", "--prompt", PROMPT, "--models", "tiny",
                             "--device", "cpu", "--out", str(tmp_path / "runs")], env=backend_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped_during_start_up(proc, tmp_path / "runs")
