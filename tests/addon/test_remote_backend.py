"""The backend on another machine over SSH: the real ``ssh`` client against a real sshd on
127.0.0.1, the backend running there as another user (tests/ssh_host.py).

Each way a connection fails is injected (an unknown host key, a refused key, nothing listening, no
Python there) and must end in one sentence that says what to do; names with quotes, ``;``, ``$()``,
spaces and non-ASCII must reach the host as they are, never as shell code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import ssh_host
from testdata import HOUSE

from img23d_client import process as process_mod
from img23d_client import session as session_mod
from img23d_client import remote as remote_mod

pytestmark = pytest.mark.process  # drives real processes (pytest.ini)
protocol = session_mod.protocol
HELLO_WAIT = 180.0


def _session(host, tmp_path: Path, *, config: Path | None = None, python: str | None = None,
             runs: str | None = None):
    remote = remote_mod.RemoteHost(host=ssh_host.ALIAS, python=python or str(host.python),
                                   runs_dir=runs or str(host.path_for_host("runs")), config_file=config or host.config,
                                   env=host.env())
    settings = process_mod.LaunchSettings(python=Path("/not/used/for/ssh"), runs_dir=tmp_path / "mirror",
                                          models="tiny", device="cpu", offline=True, log_path=tmp_path / "backend.log",
                                          remote=remote)
    return session_mod.BackendSession(lambda: settings)


def _refusal(session) -> str:
    with pytest.raises(protocol.ProtocolError) as caught:
        session.start()
        session.wait_ready(timeout=HELLO_WAIT)
    session.stop()
    assert caught.value.code is protocol.ErrorCode.BACKEND_UNAVAILABLE
    return caught.value.message


def test_the_backend_starts_on_the_host_and_says_hello(host, tmp_path: Path) -> None:
    session = _session(host, tmp_path)
    try:
        session.start()
        session.wait_ready(timeout=HELLO_WAIT)
        assert session.hello.device == "cpu" and session.remote_host == ssh_host.ALIAS
        # It runs there, as the host's user: the test's own folders are not its to read.
        owners = subprocess.run(["ps", "-o", "user=", "-u", host.user], capture_output=True, text=True).stdout
        assert host.user[:8] in owners
        assert f"({ssh_host.ALIAS})" in session.messages[-1]
    finally:
        session.stop()


def test_an_unknown_host_key_says_how_to_check_it(host, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    message = _refusal(_session(host, tmp_path, config=host.client_config(UserKnownHostsFile=str(empty))))
    assert message.startswith(f"The host key of {ssh_host.ALIAS} is unknown or has changed")
    assert f"ssh {ssh_host.ALIAS}" in message


def test_a_refused_key_says_to_add_it(host, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True, timeout=60)
    message = _refusal(_session(host, tmp_path, config=host.client_config(IdentityFile=str(stranger))))
    assert message.startswith(f"{ssh_host.ALIAS} refused the SSH login") and "authorized_keys" in message


def test_an_unreachable_host_says_so(host, tmp_path: Path) -> None:
    closed = ssh_host._free_port()  # nothing listens there
    message = _refusal(_session(host, tmp_path, config=host.client_config(Port=str(closed))))
    assert message.startswith(f"{ssh_host.ALIAS} cannot be reached over SSH") and "Connection refused" in message


def test_a_missing_python_on_the_host_says_to_install(host, tmp_path: Path) -> None:
    message = _refusal(_session(host, tmp_path, python="/opt/nowhere/bin/python"))
    assert message.startswith(f"There is no backend Python at /opt/nowhere/bin/python on {ssh_host.ALIAS}")
    assert "Install Backend" in message


def test_names_reach_the_host_as_they_are_never_as_shell_code(host, tmp_path: Path) -> None:
    # The environment through a folder whose name is hostile, the runs folder too: the backend must
    # start there (so its Python was called by that name) and make that very folder on its first job.
    # One name holds every hostile piece (quotes, a command separator, substitutions, runs of spaces,
    # non-ASCII): a piece that reached a shell unquoted fails it as surely as in a name of its own, and the
    # test starts one backend over SSH where four names started four (about 10 CPU-seconds each).
    name = "it's \"quoted\" semi;colon && true $(touch pwned)`id` space d  ír ✓"
    link = host.path_for_host(f"env {name}")
    link.symlink_to(host.python.parent.parent)
    runs = host.path_for_host(f"runs {name}")
    session = _session(host, tmp_path, python=str(link / "bin" / "python"), runs=str(runs))
    marker = host.path_for_host("pwned")
    try:
        session.start()
        session.wait_ready(timeout=HELLO_WAIT)
        public = host.path_for_host("picture.png")  # where the host's user can read it
        subprocess.run(["cp", str(HOUSE), str(public)], check=True)
        subprocess.run(["chmod", "644", str(public)], check=True)
        job = session.submit(protocol.DetectRequest(image=str(public), targets=["house"]))
        session.await_reply(job)
        reply = _wait_reply(session, job)
        assert isinstance(reply, protocol.Result), reply
        assert runs.is_dir() and any(runs.iterdir())
        assert not marker.exists() and not (Path.cwd() / "pwned").exists()
    finally:
        session.stop()
        link.unlink()
        public = host.path_for_host("picture.png")
        if public.exists():
            public.unlink()


def _wait_reply(session, job: str, timeout: float = HELLO_WAIT):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.pump()
        reply = session.take_reply(job)
        if reply is not None:
            return reply
        time.sleep(0.05)
    raise AssertionError(f"the detect job over SSH did not answer within {timeout:.0f} s")


def test_the_ssh_command_is_an_argument_list_with_every_remote_word_quoted() -> None:
    remote = remote_mod.RemoteHost(host="user@gpu-box", python="/opt/my env/bin/python", runs_dir="~/runs; rm -rf ~",
                                   port=2222, env={"IMG23D_TINY_MODELS": "/a b"})
    command = remote.command(["serve", "--out", remote.runs_dir])
    assert command[:2] == ["ssh", "-T"] and command[command.index("--") + 1] == "user@gpu-box"
    assert "-p" in command and command[command.index("-p") + 1] == "2222"
    import shlex

    assert shlex.split(command[-1]) == ["env", "IMG23D_TINY_MODELS=/a b", "PYTHONUNBUFFERED=1", "PYTHONNOUSERSITE=1",
                                        "/opt/my env/bin/python", "-m", "img23d_backend", "serve", "--out",
                                        "$HOME/runs; rm -rf ~"]  # "$HOME" in double quotes: expanded there


def test_a_path_in_the_hosts_home_is_expanded_there_and_nothing_else() -> None:
    remote = remote_mod.RemoteHost(host="gpu-box", python="~/img23d env/bin/python", runs_dir="~/runs $(id)")
    words = subprocess.run(["sh", "-c", f"for w in {remote.remote_command(['--out', remote.runs_dir])}; "
                                        "do printf '%s\\n' \"$w\"; done"],
                           env={"HOME": "/home/artist", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                           timeout=30).stdout.splitlines()
    assert words == ["env", "PYTHONUNBUFFERED=1", "PYTHONNOUSERSITE=1", "/home/artist/img23d env/bin/python", "-m",
                     "img23d_backend", "--out", "/home/artist/runs $(id)"]


@pytest.mark.parametrize("host_text, message", [
    ("", "No SSH host is set"), ("-oProxyCommand=touch x", "is not a host name"), ("a b", "is not a host name")])
def test_a_host_that_cannot_be_one_is_refused_before_ssh_runs(host_text: str, message: str) -> None:
    remote = remote_mod.RemoteHost(host=host_text, python="/usr/bin/python3", runs_dir="~/runs")
    with pytest.raises(remote_mod.RemoteProblem, match=message):
        remote.command(["serve"])
