"""The steps see a job through one typed protocol (``stages.step_context.StepContext``), and every job
that calls into them is one: the real run objects, as the engine makes them, checked member by member
(the protocol is runtime-checkable; the methods' parameters are compared too, which ``isinstance``
alone does not). A step context is what the matting driver mattes for (``matting.driver.MattingRun``). No step
takes a job typed ``Any``. No model is loaded: seconds."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest

from testdata import REPO
from img23d_backend.jobs import EngineSettings, Job
from img23d_backend.jobs.context import EngineContext
from img23d_backend.jobs.kinds.detect import DetectRun
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.jobs.kinds.regenerate import RegenerateRun
from img23d_backend.jobs.kinds.retexture import RetextureRun
from img23d_backend.catalog import tiny_model_set
from img23d_backend.matting.driver import MattingRun
from img23d_backend.runs.folders import Manifest, RunFolder
from img23d_backend.stages.step_context import StepContext, StepEngine, StepJob
from img23d_protocol import DetectRequest, GenerateRequest, RegenerateRequest, RetextureRequest

BACKEND = REPO / "backend" / "img23d_backend"
# The kinds of job whose steps take a StepContext (completion, views, depth, painting, materials, skips).
KINDS = [(GenerateRun, GenerateRequest(id="g", image="a.png", targets=["cup"])),
         (RegenerateRun, RegenerateRequest(id="r", run="run", keys=["cup"])),
         (DetectRun, DetectRequest(id="d", image="a.png", targets=["cup"])),
         (RetextureRun, RetextureRequest(id="t", image="a.png", mesh="m.npz"))]


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> EngineContext:
    return EngineContext(EngineSettings(models=tiny_model_set(tiny_root), device="cpu",
                                        runs_dir=tmp_path_factory.mktemp("runs")))


def _members(protocol: type) -> list[str]:
    return [name for name in vars(protocol) if not name.startswith("_")]


@pytest.mark.parametrize("kind, request_", KINDS, ids=[kind.__name__ for kind, _ in KINDS])
def test_every_job_that_calls_into_the_steps_is_a_step_context(engine: EngineContext, tmp_path: Path, kind: type,
                                                               request_: Any) -> None:
    folder = RunFolder.create(tmp_path, "a", Manifest(job_id=request_.id, kind=kind.kind, backend_version="0"))
    run = kind(engine, request_, Job(id=request_.id, emit=lambda message: None), folder)
    assert isinstance(run, StepContext)
    for protocol in (StepContext, MattingRun):
        for name in _members(protocol):
            declared = vars(protocol)[name]
            if callable(declared):  # a method: the same parameters, by name and kind
                wanted = list(inspect.signature(declared).parameters.values())[1:]
                got = list(inspect.signature(getattr(run, name)).parameters.values())
                assert [(p.name, p.kind) for p in got] == [(p.name, p.kind) for p in wanted], name
            else:
                assert hasattr(run, name), name
    assert all(hasattr(run.engine, name) for name in _members(StepEngine))
    assert all(hasattr(run.job, name) for name in _members(StepJob))
    assert run.job.cancel is not None and callable(run.job.emit)


def test_a_job_without_its_credits_is_no_step_context(engine: EngineContext, tmp_path: Path) -> None:
    """The check can fail: a stand-in missing one member is refused."""

    class Partial:
        request, options, manager, run_folder, engine, job = (None,) * 6

        def stage(self, name: str) -> Any: ...

        def progress(self, stage: str, step: int, total: int, message: str) -> None: ...

        def retry_smaller(self, stage: str, first: Any, smaller: Any, how: str) -> Any: ...

        def note_out_of_memory(self, exc: BaseException, message: str, *, retried: bool) -> None: ...

    assert not isinstance(Partial(), StepContext)
    Partial.made_by = lambda self: None
    assert isinstance(Partial(), StepContext)


def test_no_step_takes_its_job_as_any() -> None:
    """A parameter named ``run`` (the job a step runs in) is typed: ``StepContext`` below the jobs,
    a job's own class inside them; never ``Any``."""
    untyped = []
    for path in sorted(BACKEND.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for argument in node.args.args + node.args.kwonlyargs:
                    if argument.arg == "run" and (argument.annotation is None
                                                  or ast.unparse(argument.annotation) == "Any"):
                        untyped.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert not untyped, f"steps that take their job untyped: {untyped}"
