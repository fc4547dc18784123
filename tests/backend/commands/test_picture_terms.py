"""What generate --prompt says before its job (issue 76 item 4): the picture's model, its licence and its download.

FLUX.2 [klein] 4B's own spec (its published size, its licence in the protocol's table) against a cache folder that
is empty, then holds part of it, then all of it (a stand-in ``describe``'s answer for the last: its ~15 GB are not
written). commands/cli.py prints it before a prompt's job's first line.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from cli_inprocess import RunCli
from img23d_backend.commands import picture_terms as terms
from img23d_backend.editors import text_picture
from img23d_backend.editors.flux2_klein.model import KLEIN_BYTES, KLEIN_SPEC
from img23d_backend.models import cache
from img23d_backend.models.registry import GB


class _Manager:
    def spec(self, role: str) -> object:
        assert role == text_picture.ROLE  # the role the job makes the picture with
        return KLEIN_SPEC


def test_the_prompts_model_its_licence_and_its_download_said_before(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    said = terms.picture_terms(_Manager())
    model = "black-forest-labs/FLUX.2-klein-4B@e7b7dc27f9 (Apache License 2.0)"  # its display: the pinned revision
    assert said == f"the picture is made from the prompt by {model}: about {KLEIN_BYTES / GB:.1f} GB to download first"
    assert 14 < KLEIN_BYTES / GB < 16  # 4B parameters of each of two networks, in bfloat16

    def described(state: str, size: int) -> object:
        return lambda spec, info, shared: SimpleNamespace(state=state, size_bytes=size)

    monkeypatch.setattr(cache, "describe", described("partial", 3 * GB))
    assert terms.picture_terms(_Manager()).endswith(f"about {KLEIN_BYTES / GB:.1f} GB to download first, 3.0 GB of it "
                                                    "here")
    monkeypatch.setattr(cache, "describe", described("cached", KLEIN_BYTES))
    assert terms.picture_terms(_Manager()) == f"the picture is made from the prompt by {model}"


def test_offline_nothing_is_promised_to_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    said = terms.picture_terms(_Manager(), offline=True)
    assert said == "the picture is made from the prompt by black-forest-labs/FLUX.2-klein-4B@e7b7dc27f9 (Apache License 2.0)"


def test_offline_the_missing_picture_model_is_one_sentence_said_once(cli: RunCli, hub_cache: Path,
                                                                      tmp_path: Path) -> None:
    """Issue 87 item 9: the model's absence was said twice (a log line with the exception's repr, then the job's
    sentence) after a promise of 14.9 GB to download that --offline forbids."""
    done = cli("generate", "--prompt", "a wooden barrel", "--offline", "--models", "default", "--device", "cpu",
               "--accept-long", "--out", tmp_path / "runs")
    assert done.returncode == 1, done.stderr
    said = done.stdout + done.stderr
    assert "download" not in done.stdout and "ProtocolError" not in said, said
    assert said.count("FLUX.2-klein-4B@e7b7dc27f9 is not downloaded and downloads are switched off") == 1, said
    assert "[model_missing]" in done.stderr
