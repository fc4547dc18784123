"""Fixtures the backend's tests share across modules."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Iterator

import pytest

# The tests live in one folder per backend room (tests/backend/<room>/, as backend/img23d_backend/<room>/); the
# helper modules they share stay beside this file and are imported by their bare names (backend_proc,
# cli_inprocess, hub_stand_in, ...), so this folder goes on sys.path here, whatever pytest's import mode. (A test
# that imports a test module beside it, for its scene or its meshes, finds it as pytest's default import mode,
# prepend, puts a test's own folder there.) Every basename under tests/ is unique: no name hides another.
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import ray_head  # noqa: E402  (tests/, put on sys.path by tests/conftest.py's folder)
from backend_proc import BackendProcess  # noqa: E402
from cli_inprocess import RunCli, run_cli, tiny_env  # noqa: E402
from clean_cli_run import CleanCliRun, run_clean_textured_job  # noqa: E402

from img23d_backend.families.step1x.geometry import replica as step1x_replica  # noqa: E402


@pytest.fixture(scope="session")
def ray_cluster(backend_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ray_head.RayHead]:
    """One real Ray cluster on 127.0.0.1 for every batch test of the session (its start is the
    slow part). Its workers carry every failpoint those tests use, each inert until a test arms
    it: ``export:kill-once`` by the file named in ``extra["arm"]`` (the first worker to reach the
    export stage is killed, once), ``batch-worker:raise-armed`` and ``shape:hang-armed`` by a file
    named for the place in the folder ``extra["armed"]`` (while it exists)."""
    if ray_head.available() is not None:
        pytest.skip(str(ray_head.available()))
    arm = tmp_path_factory.mktemp("failpoints") / "kill-a-worker"
    armed = tmp_path_factory.mktemp("armed")
    env = {**backend_env, "IMG23D_FAILPOINTS": "export:kill-once,batch-worker:raise-armed,shape:hang-armed",
           "IMG23D_FAILPOINTS_ONCE": str(arm), "IMG23D_FAILPOINTS_ARMED": str(armed)}
    head = ray_head.RayHead.start(env, num_cpus=2)
    head.extra.update(arm=str(arm), armed=str(armed))
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture(scope="session")
def clean_textured_cli_run(tiny_root, tmp_path_factory: pytest.TempPathFactory) -> CleanCliRun:
    """One textured licence-clean job on the command line (tests/backend/clean_cli_run.py), for the
    tests that ask what it made (test_step1x_texture_jobs) and what it imported (test_clean_job_modules)."""
    return run_clean_textured_job(tiny_root, tmp_path_factory.mktemp("clean-cli"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tiny_root: Path) -> RunCli:
    """The command line in this process on the tiny models (tests/backend/cli_inprocess.py): ``cli(*args)``."""
    return partial(run_cli, capsys, env=tiny_env(tiny_root))


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module's runs folder for ``backend``, its name with spaces and non-ASCII letters as users' have."""
    return tmp_path_factory.mktemp("runs with spaces ünïcødé")


@pytest.fixture(scope="module")
def backend(backend_env: dict[str, str], runs_dir: Path) -> Iterator[BackendProcess]:
    """One ``serve`` process on the tiny models for a module's tests, its hello read (``backend.hello``)."""
    proc = BackendProcess(backend_env, runs_dir)
    try:
        proc.hello = proc.next(lambda e: e["type"] == "hello", timeout=120)
        yield proc
    finally:
        proc.close()


@pytest.fixture(scope="session")
def geometry_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny replica of Step1X-3D's geometry folder, built once; tests read it (copy it to change it)."""
    folder = tmp_path_factory.mktemp("step1x") / step1x_replica.FOLDER
    step1x_replica.build(folder, step1x_replica.config("tiny"))
    return folder


@pytest.fixture(scope="session")
def label_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny replica of Step1X-3D's Label folder (alone in its parent), built once; tests read it."""
    folder = tmp_path_factory.mktemp("step1x-label") / step1x_replica.LABEL_FOLDER
    step1x_replica.build_label(folder, step1x_replica.label_config())
    return folder
