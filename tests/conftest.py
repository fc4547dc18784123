"""Shared fixtures: the tiny offline models, sample data, a fast job setting, an empty hub cache."""

from __future__ import annotations

import gc
import os
import resource
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

import ssh_host  # noqa: E402  (tests/, as testdata)
from background_removal import remove_in_background  # noqa: E402  (tests/, as testdata)
from testdata import REPO, SHARED_DATA, SHARED_SKIP, SOURCE_PATHS, SOURCE_PYTHONPATH  # noqa: E402  (pytest puts tests/ on sys.path)

# Nothing in the tests may reach the Hugging Face hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Blender's user folder, for every bpy a test process starts: Blender reads it when bpy is first
# imported, and a backend test that compares with Blender imports bpy while its module is collected,
# before tests/blender/conftest.py is; set here (this conftest is loaded first), it is the add-on
# tests' temporary folder whoever imports bpy first. tests/blender/conftest.py removes it after its
# Blender run, pytest_unconfigure below after any other.
BLENDER_USER = Path(tempfile.mkdtemp(prefix="img23d-blender-user-"))
os.environ["BLENDER_USER_RESOURCES"] = str(BLENDER_USER)
sys.path[0:0] = SOURCE_PATHS


def pytest_unconfigure(config: pytest.Config) -> None:
    # A run without the add-on's fixture left the folder behind: 751 of them in /tmp from runs of single
    # test files (the test command gives its runs a TMPDIR of their own and removes it).
    remove_in_background(BLENDER_USER)
    # The run's objects (torch's, Blender's, every test module's) are not collected on the way out: about a
    # CPU-second or more for a test process holding torch (backend/img23d_backend/env/collector.py).
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive once the tests are collected (the modules they imported: torch, bpy, the backend, every
    test module) lives to the end of the run: frozen (gc.freeze), it is left out of every full collection
    after, as the backend's own processes leave theirs (env/collector.py). The backend collects in full
    wherever it gives memory back (models/placement.release_cached_memory), hundreds of times in a run of
    tests/backend, and each walked all of it again: tests/backend/jobs spent 14.5 CPU-seconds in full
    collections, 4.5 with it frozen; tests/backend/models 15.5, then 8.7 (measured, gc.callbacks). Objects a
    test makes are collected as before."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
def tiny_root() -> Path:
    # Prebuilt by scripts/test.sh: the Blender 4.2 run has no torch to build them with.
    prebuilt = os.environ.get("IMG23D_TINY_MODELS")
    if prebuilt and (Path(prebuilt) / "manifest.json").is_file():
        return Path(prebuilt)
    from img23d_backend.replicas.build import ensure_tiny_models

    return ensure_tiny_models()


@pytest.fixture(scope="session")
def backend_env(tiny_root: Path) -> dict[str, str]:
    """Environment for a backend subprocess: offline, tiny models, one thread (scripts/test.sh says why)."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "IMG23D_TINY_MODELS": str(tiny_root), "PYTHONUNBUFFERED": "1",
                "OMP_NUM_THREADS": "1"})
    env["PYTHONPATH"] = os.pathsep.join([SOURCE_PYTHONPATH, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache that this process's hub code reads and writes."""
    from huggingface_hub import constants

    folder = tmp_path / "hf" / "hub"
    folder.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


# --- no deprecated Blender API in the add-on -----------------------------------------------------

def _from_the_addon(filename: str) -> bool:
    """True for the add-on's own source: the repository's folder or an installed extension's."""
    path = Path(filename).as_posix()
    return path.startswith((REPO / "blender_img23d").as_posix() + "/") or "/extensions/user_default/img23d/" in path


@pytest.fixture(autouse=True)
def no_deprecations_from_the_addon():
    """Fail a test in which the add-on's own code used a deprecated API.

    Blender reports deprecated API use (``Material.use_nodes`` in 5.x, gone in 6.0) as a
    DeprecationWarning from C, where an "error" warning filter cannot raise cleanly (the
    exception surfaces later, somewhere else), so the warnings are recorded and checked here.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        yield
    ours = [f"{Path(w.filename).name}:{w.lineno}: {w.message}" for w in caught
            if issubclass(w.category, DeprecationWarning) and _from_the_addon(w.filename)]
    assert not ours, "the add-on used deprecated API: " + "; ".join(ours)


# --- fault ledger: every fault-injection test is counted, and so is any data it lost -------------

_LEDGER = {"injected": 0, "survived": 0, "data_lost": 0, "shared_skips": 0}
FINAL_STATUSES = {"finished", "failed", "cancelled", "interrupted"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault(name, count=1): the test injects the named fault (count times)")
    config.addinivalue_line("markers", "needs_shared_data(*files): the test reads these files of ../shared/data "
                                       "(real reference data, not in the repository) and skips where one is missing")


# The folders whose name marks their tests (pytest.ini): one pytest run of scripts/test.sh's lanes takes
# some of a folder's tests by marker and all of another's, which -m alone cannot tell apart.
FOLDER_MARKERS = ("addon", "backend", "blender", "wire")
TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects, which reads the folders' markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder under tests/ (``backend``, ...), and run the ``ray`` tests last: the
    cluster is started by the first test that needs it and stopped when the run ends, and its idle daemons
    cost CPU all the while (scripts/test.sh's lane B)."""
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(TESTS) and path.relative_to(TESTS).parts[0] in FOLDER_MARKERS:
            item.add_marker(path.relative_to(TESTS).parts[0])
    items.sort(key=lambda item: item.get_closest_marker("ray") is not None)  # stable: the others keep their order


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("needs_shared_data")
    if marker is not None:
        missing = [name for name in marker.args if not (SHARED_DATA / name).is_file()]
        if missing:
            pytest.skip(f"{SHARED_SKIP}: {', '.join(missing)} (not at {SHARED_DATA})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and SHARED_SKIP in str(report.longrepr):
        _note_shared_skip(item.nodeid)
    marker = item.get_closest_marker("fault")
    if report.when == "call" and marker is not None:
        count = int(marker.kwargs.get("count", 1))
        _LEDGER["injected"] += count
        _LEDGER["survived"] += count * int(report.passed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """With $IMG23D_TEST_CPU_FILE set, one line per test there: its node id and the CPU seconds it cost,
    this process's own and its reaped children's (the backends, Blender's and ssh processes a test
    starts and waits for): where the test command's CPU goes, which wall-clock durations on a shared
    machine cannot say."""
    target = os.environ.get("IMG23D_TEST_CPU_FILE")
    before = _cpu_seconds() if target else None
    yield
    if before is not None:
        own, children = (after - start for after, start in zip(_cpu_seconds(), before))
        with open(target, "a", encoding="utf-8") as notes:
            notes.write(f"{own:.2f} {children:.2f} {item.nodeid}\n")


def _cpu_seconds() -> tuple[float, float]:
    """User and system CPU seconds of this process, and of its children that ended and were waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _note_shared_skip(nodeid: str) -> None:
    """One line per test skipped for want of ../shared/data, in $IMG23D_SHARED_SKIPS_FILE when set:
    scripts/test.sh counts them over all its runs and says how many."""
    _LEDGER["shared_skips"] += 1
    target = os.environ.get("IMG23D_SHARED_SKIPS_FILE")
    if target:
        with open(target, "a", encoding="utf-8") as notes:
            notes.write(nodeid + "\n")


def pytest_terminal_summary(terminalreporter) -> None:
    if _LEDGER["shared_skips"]:
        terminalreporter.write_line(f"{_LEDGER['shared_skips']} tests skipped, each of which {SHARED_SKIP}")
    if _LEDGER["injected"]:
        terminalreporter.write_line(
            f"fault injection: {_LEDGER['injected']} faults injected, {_LEDGER['survived']} survived, "
            f"{_LEDGER['data_lost']} data lost")


def unfinished_runs(runs_dir: Path) -> list[str]:
    """Run folders whose manifest is missing, unreadable or does not say how the job ended."""
    import json

    lost = []
    for run in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        try:
            status = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["status"]
        except (OSError, ValueError, KeyError):
            status = None
        if status not in FINAL_STATUSES:
            lost.append(f"{run.name}: {status}")
    return lost


@pytest.fixture
def nothing_lost():
    """``nothing_lost(runs_dir)`` at the end of a fault test: every run says how it ended."""

    def check(runs_dir: Path) -> None:
        lost = unfinished_runs(runs_dir)
        _LEDGER["data_lost"] += len(lost)
        assert lost == [], f"run folders that do not say how their job ended: {lost}"

    return check


@pytest.fixture(scope="session")
def host(tiny_root: Path):
    """A real SSH server on 127.0.0.1 whose user runs the backend (tests/ssh_host.py), for this run;
    its Python is the test run's backend environment (IMG23D_TEST_BACKEND_PYTHON, else this one)."""
    reason = ssh_host.available()
    if reason is not None:
        pytest.skip(f"no loopback SSH host here: {reason}")
    backend_python = Path(os.environ.get("IMG23D_TEST_BACKEND_PYTHON") or sys.executable)
    made = ssh_host.start(REPO, tiny_root, backend_python)
    yield made
    made.stop()
