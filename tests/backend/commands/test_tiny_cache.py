"""``--models tiny`` where the tiny models' folder cannot be written: one clear sentence and a
non-zero exit from the CLI, an error event from ``serve``, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend_proc import BackendProcess
from cli_inprocess import run_cli
from image_files import picture_without_alpha

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_c]  # in lane C all the same, for the lanes' balance


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create: below a read-only folder, or, for root (whom file
    modes do not stop), below a place the kernel refuses (sysfs)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        return locked / "tiny-models"
    candidate = Path("/sys/img23d-test-tiny-models")
    try:
        candidate.mkdir()
    except OSError:
        return candidate / "v2"
    candidate.rmdir()
    pytest.skip("this machine has no folder that root cannot write")


def _folder(tmp_path: Path, kind: str) -> Path:
    if kind == "unwritable":
        return unwritable_folder(tmp_path)
    in_the_way = tmp_path / "not-a-folder"
    in_the_way.write_text("a file where the cache folder's parent should be")
    return in_the_way / "tiny-models"


@pytest.mark.parametrize("kind", ["unwritable", "file-in-the-way"])
def test_the_cli_says_so_in_one_sentence(capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str) -> None:
    # In this process (cli_inprocess): its subject is the sentence and the exit code, and a process of its own
    # paid about 4.5 CPU-seconds of imports (torch's) before it refused.
    root = _folder(tmp_path, kind)
    out = run_cli(capsys, "generate", picture_without_alpha(tmp_path), "--models", "tiny", "--device", "cpu",
                  "--out", tmp_path / "runs", env={"IMG23D_TINY_MODELS": str(root)})
    assert out.returncode == 1
    assert "Traceback" not in out.stderr, out.stderr
    [line] = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert f"the tiny models cannot be built in {root}" in line
    assert "IMG23D_TINY_MODELS" in line and line.endswith("[disk]")


def test_serve_sends_an_error_event(backend_env: dict[str, str], tmp_path: Path) -> None:
    root = unwritable_folder(tmp_path)
    proc = BackendProcess({**backend_env, "IMG23D_TINY_MODELS": str(root)}, tmp_path / "runs")
    try:
        event = proc.next(lambda e: e["type"] in ("hello", "error"), timeout=120)
        assert event["type"] == "error" and event["id"] is None and event["code"] == "disk"
        assert str(root) in event["message"] and "IMG23D_TINY_MODELS" in event["message"]
        assert proc.proc.wait(timeout=60) == 1
        assert not any("Traceback" in line for line in proc.stderr_lines)
    finally:
        proc.close()
