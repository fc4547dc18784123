"""Install Backend with the SSH backend chosen, in real Blender: the installer travels to the
loopback host (tests/ssh_host.py), repairs the backend's environment there, and the next job runs
from that environment over SSH."""

from __future__ import annotations

import subprocess

import pytest

bpy = pytest.importorskip("bpy")

import img23d_installer as installer  # noqa: E402
import ssh_host  # noqa: E402
from blender_support import ADDON_MODULE, configure_preferences  # noqa: E402
from testdata import HOUSE  # noqa: E402


def _torch_spec(host) -> str:
    """The torch the host's environment has, pinned: the install keeps it (no download)."""
    versions = subprocess.run([str(host.python), "-c", "import importlib.metadata as m; "
                               "print(m.version('torch'), m.version('torchvision'))"],
                              env={**host.env(), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                              check=True, timeout=120).stdout.split()
    return f"torch=={versions[0]} torchvision=={versions[1]}"


@pytest.mark.real_remote_install
@pytest.mark.timeout(900)
def test_install_backend_on_the_host_then_a_job_runs_from_it(addon, scene, host, backend_kept_aside) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    env = host.copy_env("blender-installed-env")
    health = installer.check_env(env)
    if health.state is not installer.EnvState.HEALTHY:
        # The repair would then rebuild it from PyPI as the host's user, without this machine's pip
        # configuration: minutes and gigabytes. The lane whose environment is healthy runs this test.
        pytest.skip(f"the test run's backend environment is not healthy, so Install Backend would rebuild it: "
                    f"{health.detail}")
    prefs.backend, prefs.ssh_host, prefs.ssh_config = "SSH", ssh_host.ALIAS, str(host.config)
    prefs.ssh_python, prefs.ssh_install_python = str(env / "bin" / "python"), str(host.base_python)
    prefs.ssh_runs_dir = str(host.path_for_host("installed-runs"))
    try:
        try:
            result = bpy.ops.img23d.install_backend(torch_spec=_torch_spec(host), pip_args="--no-compile")
        except RuntimeError as exc:
            raise AssertionError(open(str(exc).rsplit("details in ", 1)[-1].strip().rstrip(")")).read()[-3000:])
        task = addon.runtime.install_task
        assert result == {"FINISHED"}, task.error + (task.error and open(task.error.rsplit("details in ", 1)[-1].strip().rstrip(")")).read()[-3000:])
        assert task.result.host == ssh_host.ALIAS and task.result.action == "updated" and task.result.device == "cpu"
        assert task.result.python == env / "bin" / "python"
        assert task.result.summary().startswith(f"Backend updated on {ssh_host.ALIAS}: torch ")
        # The backend is installed there now (a copy, no longer the test run's editable source).
        assert list(env.glob("lib/python3.*/site-packages/img23d_backend/service/server.py"))
        scene.img23d.targets = "house"
        scene.img23d.image_path = str(HOUSE)
        assert bpy.ops.img23d.detect() == {"FINISHED"}
        session = addon.runtime.session()
        assert session.remote_host == ssh_host.ALIAS and session.process.settings.remote.python == prefs.ssh_python
    finally:
        addon.runtime.shutdown()
        addon.runtime.install_task = None
        for name in ("backend", "ssh_python", "ssh_install_python"):
            prefs.property_unset(name)
        configure_preferences()
    for image in [i for i in bpy.data.images if "detections" in i.name]:
        bpy.data.images.remove(image)
