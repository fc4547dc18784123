"""``jobs/`` says what it is (issue 91 item 2): the engine, the kinds of job, the chain's steps, each apart.

``backend/img23d_backend/jobs/`` holds the engine at its top (the job table, the run, its context, the loaders'
table), one module per kind of job under ``jobs/kinds/`` and each chain step in one place under ``jobs/steps/``
(its driver, given the job's run, and the work only it does). This test reads the imports with
``test_boundaries``' reader (``FILES``, ``IMPORTS``) and forbids:

* a module at the top of ``jobs/`` that is not the engine's (a new job or step belongs in its folder);
* the engine importing a step, or a kind anywhere but in its job table (``jobs/engine.py``);
* a step importing a kind of job (a step serves every kind that runs it);
* a room below the jobs importing a step or a kind (``stages/`` holds what the steps share with the model rooms
  below them, and imports no job; ``test_boundaries`` keeps the rooms' order).
"""

from __future__ import annotations

import pytest

import test_boundaries as boundaries

JOBS = "img23d_backend.jobs"
KINDS = f"{JOBS}.kinds"
STEPS = f"{JOBS}.steps"
# The engine: the package's face, the job table, the run every job shares, what a run works with, the loaders.
ENGINE = {JOBS, f"{JOBS}.engine", f"{JOBS}.base", f"{JOBS}.context", f"{JOBS}.loaders"}
JOB_TABLE = f"{JOBS}.engine"
# Who may import a kind of job from outside jobs/: the service lists the models as the download job answers.
KIND_READERS = {("img23d_backend.service.server", f"{KINDS}.download")}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def wrong_way(module: str, target: str) -> str | None:
    """The rule an import from ``module`` to ``target`` breaks, or None."""
    if module in ENGINE and _within(target, STEPS):
        return "the engine imports a step"
    if module in ENGINE and _within(target, KINDS) and module != JOB_TABLE:
        return "the engine imports a kind of job outside its job table"
    if _within(module, STEPS) and _within(target, KINDS):
        return "a step imports a kind of job"
    if (module.startswith("img23d_backend.") and not _within(module, JOBS)
            and (_within(target, STEPS) or _within(target, KINDS)) and (module, target) not in KIND_READERS):
        return "a room outside jobs/ imports a step or a kind (only the engine's face: jobs, jobs.engine)"
    return None


def test_the_reader_found_the_three_parts() -> None:
    assert ENGINE <= set(boundaries.FILES)
    assert f"{KINDS}.generate" in boundaries.FILES and f"{STEPS}.painting" in boundaries.FILES


def test_the_top_of_jobs_is_the_engine_alone() -> None:
    top = {name for name in boundaries.FILES
           if _within(name, JOBS) and name.count(".") <= JOBS.count(".") + 1
           and not _within(name, KINDS) and not _within(name, STEPS)}
    assert top == ENGINE, f"jobs/ holds the engine alone; put a kind of job in jobs/kinds/, a step in jobs/steps/: " \
                          f"{sorted(top - ENGINE)}"


def test_every_import_runs_the_right_way() -> None:
    bad = []
    for imp in boundaries.IMPORTS:
        owner = boundaries._owner(imp.target)
        rule = owner and wrong_way(imp.module, owner)
        if rule:
            bad.append(f"{imp.module}:{imp.line} -> {owner}: {rule}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module, target, broken", [
    (f"{STEPS}.painting", f"{KINDS}.generate", True),
    (f"{JOBS}.base", f"{STEPS}.shaping", True),
    (f"{JOBS}.context", f"{KINDS}.generate", True),
    ("img23d_backend.session", f"{STEPS}.shaping", True),
    (f"{JOBS}.engine", f"{KINDS}.generate", False),
    (f"{KINDS}.generate", f"{STEPS}.shaping", False),
    (f"{STEPS}.painting", f"{JOBS}.base", False),
])
def test_the_rule_catches_an_arrow_the_wrong_way(module: str, target: str, broken: bool) -> None:
    """The rule on made-up arrows, so that a rule that cannot fail is noticed."""
    assert (wrong_way(module, target) is not None) == broken
