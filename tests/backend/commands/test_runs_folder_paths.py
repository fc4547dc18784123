"""The backend's runs folder as the add-on mirrors it over SSH: the run paths it names start with the folder
its hello names (resolved), however the folder was given: through a link (a cluster's linked /home), relative
to the home it starts in, with "..", with a colon. Each of these failed every job over SSH ("is not inside the
backend's runs folder")."""

from __future__ import annotations

import inspect
import os
import subprocess
from pathlib import Path

import pytest
from img23d_protocol import local_path

from testdata import REPO
from img23d_backend import api
from img23d_backend.commands.common_options import DEFAULT_RUNS_DIR
from img23d_backend.session import Models, Session


@pytest.mark.parametrize("given", ["link", "relative", "dots", "colon"])
def test_run_paths_start_with_the_runs_folder_the_hello_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              given: str) -> None:
    real = tmp_path / ("real:disk" if given == "colon" else "real_disk") / "runs"
    real.mkdir(parents=True)
    (tmp_path / "linked").symlink_to(real.parent)
    monkeypatch.chdir(tmp_path)
    out = {"link": tmp_path / "linked" / "runs", "relative": Path(os.path.relpath(real, tmp_path)),
           "dots": real.parent / "x" / ".." / "runs", "colon": real}[given]
    runs_dir = Session(out, Models(models="tiny", device="cpu")).engine.settings.runs_dir
    hello_names = str(runs_dir.resolve())   # the hello's runs_dir (service.server)
    assert runs_dir == real.resolve()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    assert local_path(hello_names, str(runs_dir / "20260101-000000-house" / "house.glb"), mirror) == \
        mirror / "20260101-000000-house" / "house.glb"


def test_the_default_runs_folder_is_ignored_by_git_wherever_it_is_made() -> None:
    """``generate`` without ``--out`` (and the Python API without ``out=``) writes ``./img23d-runs`` into the
    working folder: in a clone it showed as untracked files (issue 87 item 11)."""
    assert inspect.signature(api.generate).parameters["out"].default == str(DEFAULT_RUNS_DIR)
    if not (REPO / ".git").exists():
        pytest.skip("not a git clone: nothing to ignore")
    for where in (DEFAULT_RUNS_DIR, Path("examples") / DEFAULT_RUNS_DIR):
        done = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "--no-index", str(where / "run" / "x")],
                              timeout=30)
        assert done.returncode == 0, f"{where} is not ignored by git (.gitignore)"
