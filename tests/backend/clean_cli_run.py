"""One textured licence-clean job on the command line, shared by the tests that ask about it
(tests/backend/conftest.py's ``clean_textured_cli_run``, once per session): Step1X-3D's texture model
over SDXL with the tiny replicas, in a process whose path carries

- a ``hy3dgen`` that refuses to import and leaves a mark when asked for (tests/backend/jobs/test_step1x_texture_jobs.py:
  the clean family never imports it), and
- a ``sitecustomize`` that writes each Python process's ``sys.modules`` when it ends
  (tests/backend/jobs/test_clean_job_modules.py: no Tencent-derived module is loaded).

The job that passes both is the job each test asks about: a clean job that never asks for hy3dgen
runs as it would where hy3dgen is installed (the blocker is never reached), and the mark says
whether it was. One job where there were two saves a textured job's minute on this 2-core CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from testdata import SOURCE_PYTHONPATH, SUBJECT

RUN_TIMEOUT = 300
# Two multiview steps (the model's own are 50) and a small texture: the chain's code, not its quality.
PAINT_ARGS = ("--texture-size", "256", "--paint-steps", "2")
BLOCKER = '''import os
from pathlib import Path
Path(os.environ["IMG23D_TEST_HY3DGEN_MARK"]).write_text("hy3dgen was imported")
raise ImportError("hy3dgen is not installed here (the licence-clean family's test)")
'''
PROBE = '''"""Test probe (tests/backend/clean_cli_run.py): write sys.modules when this process ends."""
import atexit
import os
import sys

_folder = os.environ.get("IMG23D_TEST_MODULES_DIR")


def _write() -> None:
    if _folder:
        with open(os.path.join(_folder, f"{os.getpid()}.txt"), "w", encoding="utf-8") as out:
            out.write("\\n".join(sorted(sys.modules)))


_exit = os._exit


def _write_then_exit(code: int) -> None:
    _write()
    _exit(code)


os._exit = _write_then_exit
atexit.register(_write)
'''


@dataclass(frozen=True)
class CleanCliRun:
    """The command's outcome, its runs folder, the blocker's mark (a file only if hy3dgen was
    asked for) and the folder of the probed processes' module lists."""

    done: subprocess.CompletedProcess
    out: Path
    hy3dgen_mark: Path
    modules: Path


def probe_site(folder: Path) -> tuple[Path, Path]:
    """The probe's ``sitecustomize`` in ``folder``/probe, and the empty folder it writes to."""
    site, written = folder / "probe", folder / "modules"
    site.mkdir(parents=True)
    written.mkdir()
    (site / "sitecustomize.py").write_text(PROBE, encoding="utf-8")
    return site, written


def hy3dgen_blocked(folder: Path) -> Path:
    """A folder whose ``hy3dgen`` refuses to import, to put first on a child's path."""
    blocked = folder / "blocked"
    (blocked / "hy3dgen").mkdir(parents=True)
    (blocked / "hy3dgen" / "__init__.py").write_text(BLOCKER, encoding="utf-8")
    return blocked


def run_clean_textured_job(tiny_root: Path, folder: Path) -> CleanCliRun:
    """``generate --family clean`` on the example picture, textured, as a user types it."""
    site, written = probe_site(folder)
    blocked = hy3dgen_blocked(folder)
    mark = folder / "hy3dgen-imported"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(blocked), SOURCE_PYTHONPATH]),
           "IMG23D_TEST_MODULES_DIR": str(written), "IMG23D_TEST_HY3DGEN_MARK": str(mark),
           "IMG23D_TINY_MODELS": str(tiny_root), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = folder / "runs"
    done = subprocess.run([sys.executable, "-m", "img23d_backend", "generate", str(SUBJECT), "--models", "tiny",
                           "--family", "clean", "--out", str(out), "--octree-resolution", "32", "--seed", "4",
                           *PAINT_ARGS], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    return CleanCliRun(done, out, mark, written)
