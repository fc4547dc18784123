"""A real licence-clean job loads no module derived from Tencent-licensed code (issue 54).

The import graph (tests/test_clean_family_imports.py) reads the code; this reads the processes. A
job runs as a user runs it, with the tiny replicas: ``generate --family clean`` on the command line
(textured: Step1X-3D's texture model, its bake and the materials step's loaders all load), and the
service Blender starts, one clean job through its protocol. Each Python process the job starts
(the backend, the UV unwrap's worker) writes its ``sys.modules`` when it exits: a
``sitecustomize`` put first on the children's path registers that at start-up, before the backend
imports anything, and also wraps ``os._exit``, which the service ends with. Every module listed as
Tencent-derived (``TENCENT_DERIVED``: img23d's ports and Hunyuan3D-2's family) and every package of
Tencent's (hy3dgen, its compiled rasterizer and renderer) must be absent. The command-line job is the
session's one textured clean job (tests/backend/clean_cli_run.py), which test_step1x_texture_jobs also reads.

Before the table of families imported a family only when a job asked for it, the command-line job
loaded 16 such modules: all of ``families/hunyuan3d/`` (the package and its 13 modules, the replica
builders among them, which checking the tiny set imported), ``models/fast_load``, now ``families/hunyuan3d/fast_load`` (whose diffusers key
fixes the material and editor loaders imported) and ``uv/fill``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend_proc import BackendProcess
from clean_cli_run import CleanCliRun, probe_site
from test_clean_family_imports import TENCENT_PACKAGES, _is_tencent_derived
from testdata import FAST_OPTIONS, SOURCE_PYTHONPATH, SUBJECT

RUN_TIMEOUT = 300

pytestmark = [pytest.mark.clean_texture,  # the clean family's texture model (pytest.ini)
              pytest.mark.skipif(not SUBJECT.is_file(), reason=f"needs the example picture {SUBJECT}")]


def tencent_loaded(modules: list[str]) -> list[str]:
    """The modules of ``modules`` derived from Tencent's code: img23d's listed ones and Tencent's packages."""
    return sorted(name for name in modules if _is_tencent_derived(name) or name.split(".")[0] in TENCENT_PACKAGES)


@pytest.fixture
def probed(tiny_root: Path, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A backend child's environment with the probe first on its path, and the folder it writes to."""
    site, written = probe_site(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), SOURCE_PYTHONPATH]),
           "IMG23D_TEST_MODULES_DIR": str(written), "IMG23D_TINY_MODELS": str(tiny_root), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    return env, written


def loaded_modules(written: Path, ran: str) -> dict[int, list[str]]:
    """Each probed process's modules by its id; one of them (the backend's) must have loaded ``ran``,
    a module of the job's own family, or the lists are not the job's."""
    found = {int(path.stem): path.read_text(encoding="utf-8").split("\n") for path in written.glob("*.txt")}
    assert any(ran in modules for modules in found.values()), f"no probed process loaded {ran}: the probe did not run"
    return found


def assert_clean(found: dict[int, list[str]]) -> None:
    derived = {pid: tencent_loaded(modules) for pid, modules in found.items()}
    assert all(not names for names in derived.values()), (
        "a licence-clean job loaded Tencent-derived modules:\n"
        + "\n".join(f"process {pid}: {len(names)}: {', '.join(names)}" for pid, names in derived.items() if names))


def test_a_textured_clean_job_on_the_command_line_loads_no_tencent_derived_module(
        clean_textured_cli_run: CleanCliRun) -> None:
    run = clean_textured_cli_run  # its path also carries a hy3dgen that refuses to import (clean_cli_run.py)
    assert run.done.returncode == 0, run.done.stderr[-3000:]
    assert not run.hy3dgen_mark.exists(), "the clean job asked for hy3dgen"
    [folder] = list(run.out.iterdir())
    [record] = json.loads((folder / "manifest.json").read_text())["records"]
    assert record["status"] == "done" and record["textured"], run.done.stdout   # the paint step ran, not skipped
    assert_clean(loaded_modules(run.modules, "img23d_backend.families.step1x.texture.paint_step"))


def test_a_clean_job_in_the_service_loads_no_tencent_derived_module(probed: tuple[dict[str, str], Path],
                                                                   tmp_path: Path) -> None:
    env, written = probed
    proc = BackendProcess(env, tmp_path / "runs", "--family", "clean")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=RUN_TIMEOUT)
        reply = proc.request({"type": "generate", "id": "g", "image": str(SUBJECT),
                              "options": {**FAST_OPTIONS, "seed": 4}}, timeout=RUN_TIMEOUT)
        assert reply["type"] == "result", f"{reply.get('code')}: {reply.get('message')}"
        assert [target["status"] for target in reply["data"]["targets"]] == ["done"]
        assert proc.request({"type": "shutdown", "id": "bye"})["data"]["shutdown"] is True
        assert proc.proc.wait(timeout=60) == 0, "".join(proc.stderr_lines[-20:])
    finally:
        proc.close()
    assert_clean(loaded_modules(written, "img23d_backend.families.step1x.geometry.stage"))


def test_a_clean_job_from_a_prompt_loads_no_tencent_derived_module(probed: tuple[dict[str, str], Path],
                                                                   tmp_path: Path) -> None:
    # Issue 76 item 4: the picture made from text (FLUX.2 [klein] 4B through the image editor's code), then the
    # clean family's shape; untextured, as the textured path is the shared run's above.
    env, written = probed
    done = subprocess.run([sys.executable, "-m", "img23d_backend", "generate", "--prompt", "a wooden barrel",
                           "--models", "tiny", "--family", "clean", "--out", str(tmp_path / "runs"),
                           "--octree-resolution", "32", "--no-texture", "--seed", "4"],
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]  # the whole picture as one object: no grounding to miss
    assert "the picture is made from the prompt by " in done.stdout
    assert_clean(loaded_modules(written, "img23d_backend.editors.text_picture"))
