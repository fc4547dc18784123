"""A real SSH server on 127.0.0.1 for the remote-backend tests: OpenSSH's sshd with a throwaway
host key, a throwaway user and a throwaway user key, run beside the system's configuration.

The "host" is this machine under another Unix user, who cannot read the test's own folders
(pytest's temporary folders are the test user's alone): what the backend needs must travel over
the connection. That user gets what a host would have: a Python with the backend's packages
(the test run's own environment and interpreter, hard-linked: instant, no copy of gigabytes),
the backend's source (copied, as Install Backend copies it), the tiny models (copied) and
a home folder. Everything lives in one folder made here and removed by ``stop``; the user is
removed too, and the sshd is stopped by the process id this module started.

Needs root (to run sshd and add a user) and Debian's openssh-server (scripts/test.sh installs it).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from background_removal import remove_in_background
from env_overlay import cached_environment

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 20.0
ALIAS = "img23d-test-host"


def available() -> str | None:
    """Why the loopback host cannot be made here, or None when it can."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root, to run sshd and add a user"
    if not SSHD.is_file():
        return "needs OpenSSH's sshd (apt-get install openssh-server; scripts/test.sh does it)"
    for tool in ("ssh", "ssh-keygen", "useradd", "userdel"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@dataclass
class LoopbackHost:
    root: Path
    user: str
    port: int
    python: Path          # the host's Python with the backend's packages
    base_python: Path     # the interpreter that environment is built on (what Install Backend starts from)
    source: Path          # the backend's source on the host (PYTHONPATH)
    tiny_models: Path
    config: Path          # an ssh config file (ssh -F) that knows the host as ALIAS
    sshd: subprocess.Popen

    def client_config(self, **changes: str) -> Path:
        """Another ssh config for the same host, with some settings changed (a fault to inject)."""
        lines = self.config.read_text().splitlines()
        for key, value in changes.items():
            lines = [f"  {key} {value}" if line.strip().split(" ")[0] == key else line for line in lines]
        path = self.root / f"ssh_config-{len(list(self.root.glob('ssh_config-*')))}"
        path.write_text("\n".join(lines) + "\n")
        return path

    def env(self) -> dict[str, str]:
        """The backend's environment on the host: its source, the tiny models, offline."""
        return {"PYTHONPATH": str(self.source), "IMG23D_TINY_MODELS": str(self.tiny_models),
                "HF_HUB_OFFLINE": "1",
                # The interpreter finds libpython through its build's run path, in the test user's
                # home: the host's user reads the linked copy instead.
                "LD_LIBRARY_PATH": str(self.root / "python" / "lib")}

    def path_for_host(self, name: str) -> Path:
        """A folder the host's user may write (inside its home)."""
        return self.root / "home" / name

    def backend_python(self) -> Path:
        """A Python for the host's preferences alone, as an installed environment's would be: a
        script there that sets ``env()`` and runs the host's Python (the main job has no env of its own)."""
        wrapper = self.root / "bin" / "backend-python"
        if not wrapper.exists():
            wrapper.parent.mkdir(exist_ok=True)
            exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in self.env().items())
            wrapper.write_text(f"#!/bin/sh\n{exports}exec {shlex.quote(str(self.python))} \"$@\"\n")
            wrapper.chmod(0o755)
        return wrapper

    def copy_env(self, name: str) -> Path:
        """A copy of the host's environment that its user may change, as Install Backend repairs one
        in place: every folder made anew and owned by that user, every file hard-linked (pip removes a
        file before writing its new one, so the originals never change)."""
        target = self.path_for_host(name)
        subprocess.run(["cp", "-al", str(self.root / "env"), str(target)], check=True, timeout=120)
        user = pwd.getpwnam(self.user)
        for folder, dirs, _files in os.walk(target, followlinks=False):
            os.chown(folder, user.pw_uid, user.pw_gid)
        # The test run's environment imports img23d from its clone (an editable install), which the
        # host's user may not reach: as an earlier install would, it imports the host's own copy.
        for site in target.glob("lib/python3.*/site-packages"):
            for editable in site.glob("__editable__*img23d*"):
                editable.unlink()
            (site / "img23d-host-source.pth").write_text(f"{self.source}\n")
        (target / "img23d-environment.txt").write_text("made by img23d's installer\n")  # as an install's is
        return target

    def stop(self) -> None:
        if self.sshd.poll() is None:
            self.sshd.terminate()
            try:
                self.sshd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
                self.sshd.wait(timeout=10)
        # The user's own processes (a backend the test left) end with it. userdel refuses a user whose processes
        # are still going away (exit 8): a test user of an earlier run was found left in /etc/passwd.
        subprocess.run(["pkill", "-KILL", "-u", self.user], capture_output=True, timeout=30)
        deadline = time.monotonic() + 30
        while subprocess.run(["userdel", self.user], capture_output=True, timeout=60).returncode == 8 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        # The host's environments are hard-linked copies, about 82,000 files: 10 s to remove here, and
        # in CI the end of lane B's add-on run waited 6.5 s for it (100 s under load).
        remove_in_background(self.root)


def start(repo: Path, tiny_models: Path, backend_python: Path | None = None) -> LoopbackHost:
    """Make the host and start its sshd; ``stop()`` undoes all of it. The host's Python is
    ``backend_python``'s environment (default: this interpreter's)."""
    root = Path(tempfile.mkdtemp(prefix="img23d-ssh-", dir="/tmp"))
    root.chmod(0o755)
    user = f"img23d-t{os.getpid()}"
    host = None
    try:
        keys = root / "keys"
        keys.mkdir(mode=0o700)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "host_ed25519"))
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "user_ed25519"))
        home = root / "home"
        _run("useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", "--user-group", user)
        # No password, but not a locked account ("!"), which sshd without PAM refuses even for keys.
        _run("usermod", "-p", "*", user)
        home.mkdir()
        shutil.chown(home, user, user)
        authorized = root / "authorized_keys"
        authorized.mkdir()
        (authorized / user).write_text((keys / "user_ed25519.pub").read_text())
        python, base_python = _host_python(root, Path(backend_python or sys.executable))
        source = root / "src"
        for package in ("backend/img23d_backend", "protocol/img23d_protocol"):
            shutil.copytree(repo / package, source / Path(package).name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        tiny = root / "tiny"
        # Copied, not linked: some of their files are the test user's to read only (mode 600).
        shutil.copytree(tiny_models.resolve(), tiny)
        subprocess.run(["chmod", "-R", "a+rX", str(tiny)], check=True, timeout=60)
        port = _free_port()
        # Its temporary files in its home, which goes with the host: torch's compile cache folder
        # /tmp/torchinductor_<user> otherwise outlived the user (63 of them here, owned by no one).
        (home / "tmp").mkdir()
        shutil.chown(home / "tmp", user, user)
        # What a real host's login gives its Python without asking: the hard-linked interpreter's
        # library, the tiny models, offline, that temporary folder (the tests' own settings travel in
        # the command too).
        session_env = {"LD_LIBRARY_PATH": str(root / "python" / "lib"), "IMG23D_TINY_MODELS": str(tiny),
                       "HF_HUB_OFFLINE": "1", "TMPDIR": str(home / "tmp")}
        config = root / "sshd_config"
        config.write_text("\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {keys / 'host_ed25519'}",
            f"PidFile {root / 'sshd.pid'}", f"AuthorizedKeysFile {authorized}/%u",
            # /tmp is world-writable: sshd's strict checks of the key file's folders would refuse it.
            "StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin no", f"AllowUsers {user}", "X11Forwarding no",
            "AllowTcpForwarding no", "PrintMotd no", "LogLevel ERROR",
            "SetEnv " + " ".join(f"{name}={value}" for name, value in session_env.items()), ""]))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        sshd = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                stderr=open(root / "sshd.log", "ab"), start_new_session=True)
        client = root / "ssh_config"
        known = root / "known_hosts"
        kind, key = (keys / "host_ed25519.pub").read_text().split()[:2]
        known.write_text(f"[127.0.0.1]:{port} {kind} {key}\n")
        client.write_text("\n".join([
            f"Host {ALIAS}", "  HostName 127.0.0.1", f"  Port {port}", f"  User {user}",
            f"  IdentityFile {keys / 'user_ed25519'}", "  IdentitiesOnly yes", f"  UserKnownHostsFile {known}",
            "  GlobalKnownHostsFile /dev/null", "  StrictHostKeyChecking yes", ""]))
        host = LoopbackHost(root=root, user=user, port=port, python=python, base_python=base_python, source=source,
                            tiny_models=tiny,
                            config=client, sshd=sshd)
        _wait_listening(host)
        return host
    except BaseException:
        if host is not None:
            host.stop()
        else:
            subprocess.run(["userdel", user], capture_output=True, timeout=60)
            shutil.rmtree(root, ignore_errors=True)
        raise


def _host_python(root: Path, backend_python: Path) -> tuple[Path, Path]:
    """``backend_python``'s environment and base interpreter, hard-linked where the host's user can
    reach them (the originals may sit in a folder only the test's user may enter)."""
    facts = subprocess.run([str(backend_python), "-c", "import sys; print(sys.prefix); print(sys.base_prefix); "
                            "print(f'python{sys.version_info.major}.{sys.version_info.minor}')"],
                           check=True, capture_output=True, text=True, timeout=60).stdout.split("\n")
    # Resolved: a prefix reached through a link (.venv-py313 is one) would be copied as the link,
    # and the changes below would then land in the original environment.
    env, base, version = Path(facts[0]).resolve(), Path(facts[1]).resolve(), facts[2]
    # A clone's .venv is an overlay of a cached environment (scripts/setup_env.sh) whose .pth names
    # folders the host's user cannot enter: the host gets the cached environment itself, and the
    # backend's source through env()'s PYTHONPATH.
    cached = cached_environment(env)
    env = cached.resolve() if cached is not None else env
    subprocess.run(["cp", "-al", str(base), str(root / "python")], check=True, timeout=120)
    base_python = root / "python" / "bin" / version
    if env == base:
        return base_python, base_python
    subprocess.run(["cp", "-al", str(env), str(root / "env")], check=True, timeout=120)
    if (root / "env").is_symlink() or not (root / "env" / "pyvenv.cfg").is_file():
        raise RuntimeError(f"the environment {env} was not copied as a folder: not changing anything in it")
    # New files, not writes through the links: the originals stay as they are.
    config = root / "env" / "pyvenv.cfg"
    text = config.read_text().replace(str(base), str(root / "python"))
    config.unlink()
    config.write_text(text)
    for name in ("python", "python3", version):
        link = root / "env" / "bin" / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(root / "python" / "bin" / version)
    return root / "env" / "bin" / "python", base_python


def _wait_listening(host: LoopbackHost) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if host.sshd.poll() is not None:
            raise RuntimeError(f"sshd ended at start (exit {host.sshd.returncode}): "
                               f"{(host.root / 'sshd.log').read_text()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", host.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on 127.0.0.1:{host.port} within {START_TIMEOUT:.0f} s")
