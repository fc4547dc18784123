"""A memory cap that cannot be one, refused before anything starts (issue 97, item 1): ``batch --memory-cap-gb 0``
started its workers, each of which refused the cap alone for every line with advice to run the same command again;
the Python API given ``memory_cap_gb="8"`` raised a TypeError from math, and ``True`` was a 1 GB cap. Each is now one
sentence, before a worker, a record or a model (``models.memory_cap.check_cap_gb``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cli_inprocess import run_cli
from img23d_backend import api
from img23d_backend.batch import driver
from img23d_backend.models.memory_cap import check_cap_gb
from img23d_protocol import ErrorCode, ProtocolError

RANGE = "it must be 0.25 to 1024 (GB)"


def _pictures(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(2):
        (folder / f"p-{index}.png").write_bytes(f"picture {index}".encode())
    return folder


def _no_workers(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every pool the batch would start, recorded (none may be)."""
    started: list[object] = []
    monkeypatch.setattr(driver, "make_pool", lambda settings, count: started.append(settings) or None)
    return started


def test_the_batch_command_refuses_a_zero_cap_before_it_starts(tmp_path: Path, capsys, monkeypatch) -> None:
    started = _no_workers(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.json").write_text('{"an earlier batch": "its record"}')
    done = run_cli(capsys, "batch", _pictures(tmp_path / "in"), "--out", out, "--models", "tiny", "--device", "cpu",
                   "--memory-cap-gb", "0")
    assert done.returncode == 2
    assert done.stderr == f"error: --memory-cap-gb 0 is out of range: {RANGE} [bad_request]\n"
    assert done.stdout == "" and started == []
    assert sorted(p.name for p in out.iterdir()) == ["batch.json"]   # no lock, no run folder, the record as it was
    assert (out / "batch.json").read_text() == '{"an earlier batch": "its record"}'


@pytest.mark.parametrize("cap, sentence", [
    (0, f"--memory-cap-gb 0 is out of range: {RANGE}"),
    ("8", f"memory_cap_gb='8' is not a number: {RANGE}"),
    (True, f"memory_cap_gb=True is not a number: {RANGE}"),
])
def test_the_api_batch_refuses_a_cap_before_its_record_or_a_worker(tmp_path: Path, monkeypatch, cap: object,
                                                                     sentence: str) -> None:
    started = _no_workers(monkeypatch)
    with pytest.raises(ProtocolError) as caught:
        api.batch([str(_pictures(tmp_path / "in"))], out=tmp_path / "out",
                  models=api.Models(models="tiny", device="cpu", memory_cap_gb=cap))  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.message) == (ErrorCode.BAD_REQUEST, sentence)
    assert started == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("cap, sentence", [
    ("8", f"memory_cap_gb='8' is not a number: {RANGE}"),
    (True, f"memory_cap_gb=True is not a number: {RANGE}"),
    ([8], f"memory_cap_gb=[8] is not a number: {RANGE}"),
    (float("nan"), f"--memory-cap-gb nan is out of range: {RANGE}"),
    (10 ** 400, f"--memory-cap-gb inf is out of range: {RANGE}"),
])
def test_the_api_session_refuses_a_cap_that_is_not_one_in_one_sentence(tmp_path: Path, monkeypatch, cap: object,
                                                                         sentence: str) -> None:
    # Refused before the tiny set is built or a model read: nothing of the engine is made.
    monkeypatch.setattr("img23d_backend.session.ensure_tiny_models",
                        lambda families: pytest.fail("the tiny set was built for a session that is refused"))
    with pytest.raises(ProtocolError) as caught:
        api.Session(tmp_path / "runs", api.Models(models="tiny", device="cpu", memory_cap_gb=cap))  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.message) == (ErrorCode.BAD_REQUEST, sentence)
    assert not (tmp_path / "runs").exists()


def test_a_cap_given_as_any_real_number_is_taken_in_gb() -> None:
    assert check_cap_gb(None) is None
    assert check_cap_gb(8) == check_cap_gb(np.float64(8.0)) == check_cap_gb(np.int64(8)) == 8.0
    assert isinstance(check_cap_gb(8), float)
