"""Each clone tests its own code: two clones over the same cached environment (issue 39).

``scripts/setup_env.sh`` builds environments once in a shared cache and gives each clone a small
overlay environment of its own. Two copies of this repository whose ``img23d_backend`` differ by
one constant are set up one after the other over the same cache and run side by side: each must
import its own code; once one is deleted the other still works, and the shared environment holds
no package of this project (an editable install there would name one clone only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from env_overlay import cached_environment
from testdata import REPO

SETUP_TIMEOUT = 180   # seconds: linking an overlay takes a few; building an environment is refused
RUN_TIMEOUT = 120
PROBE = ("import sys, img23d_backend, img23d_protocol; "
         "print(img23d_backend.CLONE_MARK, img23d_backend.__file__, img23d_protocol.__file__, sep='\\n')")


def _copy_clone(target: Path, mark: str) -> Path:
    """What setup needs of this working tree (its files as git sees them: the same requirement
    files, so the same cached environment), with ``CLONE_MARK = mark`` in the backend package."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                             "scripts", "backend", "protocol", "requirements-dev.txt"],
                            cwd=REPO, check=True, capture_output=True, timeout=60).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    init = target / "backend" / "img23d_backend" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + f"\nCLONE_MARK = {mark!r}\n", encoding="utf-8")
    return target


def _clean_env() -> dict[str, str]:
    # Nothing inherited may name a clone's code: the overlay alone must find it.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env["IMG23D_ENV_REQUIRE_CACHED"] = "1"
    return env


def _setup(clone: Path) -> None:
    done = subprocess.run(["bash", "scripts/setup_env.sh", "main"], cwd=clone, env=_clean_env(),
                          capture_output=True, text=True, timeout=SETUP_TIMEOUT)
    assert done.returncode == 0, f"setup_env.sh main failed in {clone}:\n{done.stdout}\n{done.stderr}"


def _probe_lines(process: subprocess.Popen, clone: Path) -> list[str]:
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"{clone}/.venv/bin/python did not import the backend within {RUN_TIMEOUT} s")
    assert process.returncode == 0, f"{clone}'s .venv could not import its backend:\n{err}"
    return out.splitlines()


def _start_probe(clone: Path) -> subprocess.Popen:
    return subprocess.Popen([str(clone / ".venv" / "bin" / "python"), "-c", PROBE], cwd="/",
                            env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_clones_each_import_their_own_code(tmp_path: Path) -> None:
    cached = cached_environment(REPO / ".venv")
    if cached is None:
        pytest.skip(f"{REPO / '.venv'} is not an overlay of a cached environment (made in place): "
                    "nothing is shared between clones")
    first = _copy_clone(tmp_path / "first" / "repo", "first")
    second = _copy_clone(tmp_path / "second" / "repo", "second")
    _setup(first)
    _setup(second)   # set up last: an editable install in the cache would now name this clone

    # Side by side: both interpreters run at once.
    probes = {clone: _start_probe(clone) for clone in (first, second)}
    for clone, process in probes.items():
        mark, backend, protocol = _probe_lines(process, clone)
        assert mark == clone.parent.name, f"{clone} imported another clone's backend ({backend})"
        assert Path(backend).is_relative_to(clone) and Path(protocol).is_relative_to(clone), (backend, protocol)

    shutil.rmtree(second.parent)
    mark, backend, _ = _probe_lines(_start_probe(first), first)
    assert mark == "first" and Path(backend).is_relative_to(first)

    # The shared environment itself knows no clone.
    shared = subprocess.run([str(cached / "bin" / "python"), "-c", "import img23d_backend"], cwd="/",
                            env=_clean_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert shared.returncode != 0 and "No module named 'img23d_backend'" in shared.stderr, (
        f"the shared environment {cached} imports a clone's backend by itself")
