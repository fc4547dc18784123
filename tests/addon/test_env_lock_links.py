"""The install lock never opened through a symbolic link (issue 97, item 3): ``<env>.install.lock`` opened for
appending followed a link there, dangling or not, and made (or grew) a file where it pointed. Now one sentence,
nothing written at the link's target, and Install Backend stops before its first step (``env_lock``)."""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path

import pytest

from installer_runs import CPU, PROTOCOL_WHEEL

from img23d_installer import env_lock

install_mod = import_module("img23d_installer.install")  # the module: the package exports its install()

SENTENCE = "is a symbolic link, not img23d's install lock: nothing was installed and nothing was written where it points"


def _linked_lock(tmp_path: Path, target: Path) -> Path:
    env = tmp_path / "backend-env"
    try:
        env_lock.lock_path(env).symlink_to(target)
    except OSError as exc:  # Windows without the right to make links
        pytest.skip(f"this system cannot make a symbolic link here: {exc}")
    return env


def test_a_dangling_link_at_the_lock_is_refused_and_nothing_is_made_where_it_points(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "victim.txt"
    target.parent.mkdir()
    env = _linked_lock(tmp_path, target)
    with pytest.raises(env_lock.LockLinked) as caught:
        with env_lock.held(env):
            pytest.fail("the lock was taken through a link")
    assert str(caught.value) == (f"{env_lock.lock_path(env)} {SENTENCE}; remove the link and install again")
    assert not target.exists() and not os.path.lexists(env) and env_lock.lock_path(env).is_symlink()


def test_a_link_to_a_file_is_refused_and_the_file_is_left_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_bytes(b"an artist's notes")
    env = _linked_lock(tmp_path, target)
    with pytest.raises(env_lock.LockLinked):
        with env_lock.held(env):
            pytest.fail("the lock was taken through a link")
    assert target.read_bytes() == b"an artist's notes"


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="this system's open has no O_NOFOLLOW")
def test_a_link_made_after_the_check_is_still_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The link appears between the look and the open (another process's doing): O_NOFOLLOW refuses it.
    target = tmp_path / "victim.txt"
    env = _linked_lock(tmp_path, target)
    real, looks = Path.is_symlink, []

    def not_yet_a_link(path: Path) -> bool:   # the first look sees a plain path; the link is there by the open
        looks.append(path)
        return len(looks) > 1 and real(path)

    monkeypatch.setattr(Path, "is_symlink", not_yet_a_link)
    with pytest.raises(env_lock.LockLinked):
        with env_lock.held(env):
            pytest.fail("the lock was taken through a link")
    assert not target.exists()


def test_install_backend_says_the_link_in_one_sentence_and_installs_nothing(tmp_path: Path) -> None:
    target = tmp_path / "victim.txt"
    env = _linked_lock(tmp_path, target)
    with pytest.raises(install_mod.InstallError) as caught:
        install_mod.install(env, tmp_path / "no-backend", PROTOCOL_WHEEL, python=Path(sys.executable), torch=CPU,
                            log_path=tmp_path / "install.log")
    lock = env_lock.lock_path(env)
    assert caught.value.reason == f"{lock} {SENTENCE}; remove the link and install again"
    assert caught.value.step is install_mod.Step.CREATE_VENV
    assert not target.exists() and not os.path.lexists(env) and not (tmp_path / "install.log").exists()


def test_a_plain_lock_file_is_still_taken_and_given_back(tmp_path: Path) -> None:
    env = tmp_path / "backend-env"
    with env_lock.held(env):
        assert env_lock.lock_path(env).is_file() and not env_lock.lock_path(env).is_symlink()
        with pytest.raises(env_lock.EnvBusy, match="another install of .* is running"):
            with env_lock.held(env):
                pytest.fail("two installs held one environment")
    with env_lock.held(env):   # given back when the first ended
        pass
