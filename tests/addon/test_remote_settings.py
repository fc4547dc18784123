"""The host string and the ssh config file (issue 34, item 6), checked before ssh runs: the host is
what ssh accepts as a host or an alias and nothing a shell would read (an older ssh hands it to a
ProxyCommand's shell as %h); the config file is an absolute path, never one relative to the open
.blend file."""

from __future__ import annotations

from pathlib import Path

import pytest


from img23d_client import remote as remote_mod


def _remote(host: str = "gpu-box", config: Path | None = None):
    return remote_mod.RemoteHost(host=host, python="~/env/bin/python", runs_dir="~/runs", config_file=config)


@pytest.mark.parametrize("host", ["gpu-box", "artist@gpu-box.studio.example", "img23d-test-host", "10.0.0.7",
                                  "ssh://artist@gpu-box:2222", "[::1]", "artist@[fe80::1%eth0]", "fe80::1",
                                  "box_2", "[2001:db8::7]:22"])
def test_hosts_that_ssh_accepts_pass(host: str) -> None:
    remote = _remote(host)
    remote.check()
    assert remote.argv(["true"])[-2] == host


@pytest.mark.parametrize("host", ["gpu;touch /tmp/owned", "gpu$(id)", "gpu`id`", "gpu|nc", "gpu&", "gpu'x",
                                  'gpu"x', "gpu%h", "gpu/x", "gpu\\x", "-oProxyCommand=sh", "ssh://-oX",
                                  "gpü-box", "[::1;id]", "gpu*", "gpu?", "gpu>x", "a b"])
def test_hosts_with_anything_a_shell_would_read_are_refused_before_ssh_runs(host: str) -> None:
    with pytest.raises(remote_mod.RemoteProblem, match="is not a host name: .* letters, digits and . _ - @ : only"):
        _remote(host).argv(["true"])


@pytest.mark.parametrize("config", ["//studio/ssh_config", "studio/ssh_config", "ssh_config"])
def test_an_ssh_config_path_that_is_not_absolute_is_refused(config: str) -> None:
    with pytest.raises(remote_mod.RemoteProblem, match="is not an absolute path: choose it again with Relative "
                                                       "Path off"):
        _remote(config=Path(config)).check()


def test_an_absolute_ssh_config_path_is_passed_to_ssh(tmp_path: Path) -> None:
    argv = _remote(config=tmp_path / "ssh_config").argv(["true"])
    assert argv[argv.index("-F") + 1] == str(tmp_path / "ssh_config")
