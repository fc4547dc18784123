"""What generate --prompt says before its job (issue 76 item 4): the picture's model, its licence and its download.

FLUX.2 [klein] 4B's own spec (its published size, its licence in the protocol's table) against a cache folder that
is empty, then holds part of it, then all of it (a stand-in ``describe``'s answer for the last: its ~15 GB are not
written). commands/cli.py prints it before a prompt's job's first line.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

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
