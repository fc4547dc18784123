"""The backend on another machine: the ``ssh`` command that starts it there, and what its failures mean.

The system's own ``ssh`` client does the connecting, so keys, agents, ``~/.ssh/config`` aliases,
jump hosts and host-key checks are the artist's own, and no password or key ever passes
through Blender. The add-on only builds an argument list (no local shell): ssh's options, ``--``,
the destination, then the remote command. ssh hands the remote command to the host's shell as
one string, so every word of it is quoted here (``shlex.quote``, POSIX ``sh`` on the host): a
runs folder or Python path with spaces, quotes, ``;`` or ``$()`` stays one word, never code.

When ssh fails before the backend says hello, its last words (in the backend's log, where its
stderr goes) say why; ``explain`` turns them into one sentence that says what to do. When the
connection goes after the hello, it had connected and worked: ``lost_link`` says the link was lost,
that what arrived stays, and that the next job connects again.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .endings import signal_name

SSH_FAILED = 255           # ssh's own exit status when it could not connect or authenticate
COMMAND_NOT_FOUND = 127    # the host's shell: no such program (the backend's Python is missing)
CANNOT_EXECUTE = 126


class RemoteProblem(ValueError):
    """A remote-backend setting that cannot work; the message says which and why."""


@dataclass(frozen=True)
class RemoteHost:
    """Where and how the backend runs over SSH (from the add-on's preferences)."""

    host: str                    # as ``ssh`` understands it: user@host, an alias, ssh://user@host:port
    python: str                  # the backend's Python on the host
    runs_dir: str                # the host's runs folder
    port: int = 0                # 0: ssh's own (its config, else 22)
    ssh: str = "ssh"             # the ssh client to run
    config_file: Path | None = None  # an ssh config file of its own (ssh -F), e.g. a project's
    # Environment for the backend on the host (e.g. IMG23D_TINY_MODELS), set by ``env`` there.
    env: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ``RemoteProblem`` for a setting that cannot be right, before anything runs."""
        host = self.host.strip()
        if not host:
            raise RemoteProblem("No SSH host is set: enter it in the add-on's preferences (user@host or an "
                                "alias from your ~/.ssh/config)")
        # What ssh takes as a host or an alias, and nothing else: a leading dash would make ssh read it
        # as an option (-oProxyCommand=...), and an older ssh hands the host to the shell of a
        # ProxyCommand as %h, so no shell character (; $ ` | & ' " spaces...) may reach it.
        if not _host_ok(host):
            raise RemoteProblem(f"The SSH host {host!r} is not a host name: use user@host, host, or an alias "
                                "from your ~/.ssh/config, with letters, digits and . _ - @ : only (an IPv6 "
                                "address in brackets), not starting with '-'")
        if self.config_file is not None:
            text = str(self.config_file)
            if text.startswith("//") or not Path(text).is_absolute():
                raise RemoteProblem(f"The SSH config file {text!r} is not an absolute path: choose it again with "
                                    "Relative Path off (a path relative to the open .blend file changes with it)")
        if not (0 <= self.port <= 65535):
            raise RemoteProblem(f"The SSH port {self.port} is not a port (1 to 65535, or 0 for ssh's own)")
        for label, value in (("the host's Python", self.python), ("the host's runs folder", self.runs_dir)):
            if not value.strip():
                raise RemoteProblem(f"{label[0].upper() + label[1:]} is not set: enter its path on the host in "
                                    "the add-on's preferences")
            if "\0" in value or "\n" in value:
                raise RemoteProblem(f"{label[0].upper() + label[1:]} {value!r} holds a line break or NUL")
        for name in self.env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise RemoteProblem(f"{name!r} is not an environment variable's name")

    def command(self, backend_args: list[str]) -> list[str]:
        """The local argument list that runs the backend there: ``python -m img23d_backend ARGS``."""
        return self.argv(self.backend_words(backend_args))

    def argv(self, program: list[str]) -> list[str]:
        """The local argument list: ssh, its options, the destination, ``program`` as the quoted remote command."""
        self.check()
        options = ["-T",                              # no terminal: protocol lines only
                   "-o", "BatchMode=yes",            # never prompt (Blender has no terminal): fail instead
                   "-o", "ServerAliveInterval=15",   # a dead link is noticed in about a minute
                   "-o", "ServerAliveCountMax=4"]
        if self.port:
            options += ["-p", str(self.port)]
        if self.config_file is not None:
            options += ["-F", str(self.config_file)]
        return [self.ssh, *options, "--", self.host.strip(), self.shell_line(program)]

    def backend_words(self, backend_args: list[str]) -> list[str]:
        return [self.python, "-m", "img23d_backend", *backend_args]

    def remote_command(self, backend_args: list[str]) -> str:
        """What the host's shell runs for the backend: ``env VAR=... python -m img23d_backend ...``."""
        return self.shell_line(self.backend_words(backend_args))

    def shell_line(self, program: list[str]) -> str:
        """``program`` for the host's shell, every word quoted, after ``env`` and the variables it needs."""
        words = ["env", *(f"{name}={value}" for name, value in sorted(self.env.items())),
                 "PYTHONUNBUFFERED=1", "PYTHONNOUSERSITE=1", *program]
        return " ".join(quote(word) for word in words)


_NAME = re.compile(r"[A-Za-z0-9._@:-]+")
_BRACKETED = re.compile(r"(?:[A-Za-z0-9._-]+@)?\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._-]+)?\](?::[0-9]{1,5})?")


def _host_ok(host: str) -> bool:
    """Whether ``host`` is what ssh accepts as a destination: user@host, an alias, an IPv6 address
    (bracketed, with a zone), optionally as an ``ssh://`` URI."""
    rest = host[len("ssh://"):] if host.startswith("ssh://") else host
    return bool(rest) and not rest.startswith("-") and bool(_NAME.fullmatch(rest) or _BRACKETED.fullmatch(rest))


def quote(word: str) -> str:
    """``word`` for the host's ``sh``: quoted whole, but a leading ``~/`` (a path in the user's home
    there, as the preferences' defaults are) becomes ``"$HOME"/``, the one expansion allowed."""
    if word == "~":
        return '"$HOME"'
    if word.startswith("~/"):
        return '"$HOME"/' + shlex.quote(word[2:])
    return shlex.quote(word)


# ssh's messages (OpenSSH) for each way a connection fails, most specific first.
_HOST_KEY = ("REMOTE HOST IDENTIFICATION HAS CHANGED", "Host key verification failed",
             "No ED25519 host key is known", "No RSA host key is known", "No ECDSA host key is known")
_UNREACHABLE = ("Could not resolve hostname", "Connection refused", "Connection timed out", "No route to host",
                "Network is unreachable", "Connection closed by", "Connection reset")
# ssh's messages when a connection that worked goes (its reason, when it gave one).
_LINK_LOST = ("closed by remote host", "Connection closed by", "Connection reset", "Broken pipe", "Timeout, server",
              "not responding", "client_loop", "Killed by signal")


def explain(remote: RemoteHost, returncode: int | None, stderr_tail: str) -> str | None:
    """One sentence for a remote backend that ended before its hello; None when the ending is not
    ssh's or the shell's (the backend's own error is then the better message)."""
    host = remote.host.strip()
    text = stderr_tail or ""
    if returncode == SSH_FAILED or any(marker in text for marker in _HOST_KEY + _UNREACHABLE):
        if any(marker in text for marker in _HOST_KEY):
            return (f"The host key of {host} is unknown or has changed: connect once with 'ssh {host}' in a "
                    "terminal to check and accept it (a changed key can mean someone is in between)")
        if "Permission denied" in text:
            return (f"{host} refused the SSH login: add your public key to its ~/.ssh/authorized_keys, or load "
                    "the key into your ssh-agent (Blender cannot type a password)")
        if any(marker in text for marker in _UNREACHABLE):
            return f"{host} cannot be reached over SSH ({_first_line(text, _UNREACHABLE)}): check the host name, " \
                   "the port and the network"
        if returncode == SSH_FAILED:
            return f"ssh could not connect to {host}: {_last_line(text) or 'no reason given'}"
    if returncode in (COMMAND_NOT_FOUND, CANNOT_EXECUTE) and remote.python in text:
        return (f"There is no backend Python at {remote.python} on {host}: run Install Backend with the SSH "
                "backend chosen, or set the host's Python in the add-on's preferences")
    return None


def lost_link(remote: RemoteHost, returncode: int | None, stderr_tail: str) -> str | None:
    """One sentence for a connection that ended after the backend's hello (or ssh ended by a signal
    at any time): ssh's own ending is the link lost, not a failure to connect. None when the status
    is the backend's own, passed on by ssh (an exit, or a signal named by the host's shell)."""
    ended_by = signal_name(returncode) if returncode is not None and returncode < 0 else None
    if ended_by is not None:  # the ssh client here, not the backend there
        why = f"ssh was ended by {ended_by}"
    elif returncode == SSH_FAILED:
        why = _first_line(stderr_tail or "", _LINK_LOST) or "ssh gave no reason"
    else:
        return None
    return (f"the connection to {remote.host.strip()} was lost ({why}); what already arrived stays, and the next "
            "job connects again")


def _first_line(text: str, markers: tuple[str, ...]) -> str:
    for line in text.splitlines():
        if any(marker in line for marker in markers):
            return line.strip().rstrip(".")
    return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
