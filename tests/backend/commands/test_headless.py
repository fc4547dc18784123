"""A headless Linux server is enough: a whole job runs without libGL or any other OpenGL library.

The backend's requirements carry opencv's headless build and no pymeshlab (both of the others load
libGL). The service is started as Blender starts it, runs a textured job through the protocol
(grounding, matting, shape, clean-up, paint, export), and its memory maps are read before it is
shut down: no OpenGL library may be among them. hy3dgen still imports pymeshlab; where it is
absent ``env.torch_shims`` stands in for it, and using the stand-in says why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE, SOURCE_PYTHONPATH
from backend_proc import BackendProcess

pytestmark = pytest.mark.process  # its subject is img23d's processes (pytest.ini)

# The GL vendor-neutral dispatch (libOpenGL, libGLX, libGLdispatch), the legacy libGL, EGL and GLU.
GL_LIBRARY = re.compile(r"^lib(GL|OpenGL|EGL|GLX|GLdispatch|GLU)([._-]|$)")


def mapped_files(pid: int) -> set[str]:
    """The files a running process has mapped into its memory (``/proc/<pid>/maps``)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {parts[5] for parts in (line.split(maxsplit=5) for line in lines) if len(parts) == 6}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/maps")
def test_a_whole_textured_job_never_loads_an_opengl_library(backend_env: dict[str, str], tmp_path: Path) -> None:
    proc = BackendProcess(backend_env, tmp_path)
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        reply = proc.request({"type": "generate", "id": "gl", "image": str(HOUSE), "targets": ["house"],
                              "options": {**FAST_OPTIONS, **FAST_PAINT}}, timeout=600)
        assert reply["type"] == "result", reply
        [target] = reply["data"]["targets"]
        assert target["status"] == "done" and target["textured"], target
        files = mapped_files(proc.proc.pid)
        # The job did load what might pull OpenGL in: OpenCV's and torch's own libraries.
        assert any("/cv2/" in name or "opencv" in name for name in files), "OpenCV was never loaded"
        assert any("libtorch" in name for name in files), "torch was never loaded"
        gl = sorted(name for name in files if GL_LIBRARY.match(os.path.basename(name)))
        assert gl == [], f"OpenGL libraries mapped by the backend: {gl}"
        assert proc.request({"type": "shutdown", "id": "bye"})["data"]["shutdown"] is True
        assert proc.proc.wait(timeout=30) == 0
    finally:
        proc.close()


# Runs in a fresh interpreter with pymeshlab made unimportable, as on a machine without it.
STAND_IN = """
import sys
class NoPymeshlab:
    def find_spec(self, name, path=None, target=None):
        if name == "pymeshlab":
            raise ImportError("no pymeshlab here")
sys.meta_path.insert(0, NoPymeshlab())
from img23d_backend.env.torch_shims import PymeshlabMissing, prepare_torchvision, pymeshlab_stood_in
prepare_torchvision()
import hy3dgen.shapegen  # imports its pymeshlab post-processors
assert pymeshlab_stood_in()
import pymeshlab
for use in (lambda: pymeshlab.MeshSet(), lambda: pymeshlab.Mesh(), lambda: pymeshlab.load_mesh):
    try:
        use()
    except PymeshlabMissing as exc:
        print("refused:", exc)
    else:
        raise SystemExit("the stand-in was usable")
"""


def test_hy3dgen_imports_without_pymeshlab_and_its_stand_in_refuses_to_be_used() -> None:
    env = {**os.environ, "PYTHONPATH": SOURCE_PYTHONPATH, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", STAND_IN], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    refusals = [line for line in done.stdout.splitlines() if line.startswith("refused:")]
    assert len(refusals) == 3 and all("pymeshlab is not installed" in line for line in refusals)
