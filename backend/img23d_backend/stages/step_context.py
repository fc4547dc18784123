"""What a step is given of the job it runs in: the ``StepContext``.

The jobs (``jobs.base.JobRun`` and its kinds) hand themselves to the steps they call into: the
completion and the material step (``jobs.steps.completing``, ``jobs.steps.materials``), the views (``views.given``),
the layout's depth pass (``layout.scene``), a family's paint step (``families.family.PaintStep``) and
the skips a step records (``stages.skips``). Those steps see the job only through this protocol, so
they need not import the jobs (which sit above them) and a reader finds here all a step may ask of a
job: its request and options, the model manager, the run folder, the device, the job's id, events and
cancel token, stage timing, progress and the out-of-memory retry (with which ``matting.driver.matte_all``
mattes a step's pictures: a step context is a ``matting.driver.MattingRun``).

It lives in ``stages``, the lowest room that knows the model manager and the run folder, so that every
room above it (families, layout, views, jobs) can name it and imports still run one way.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol, TypeVar, runtime_checkable

from img23d_protocol import (DetectRequest, GenerateRequest, JobOptions, Message, PartsRequest, RegenerateRequest,
                             RetextureRequest, RetopoRequest)

from ..env.job_control import CancelToken
from ..gltf.made_by import MadeBy
from ..models.manager import ModelManager
from ..runs.folders import RunFolder

# Every request a job runs (the jobs' ``Request``): a step asks the fields of the kinds it serves.
Request = GenerateRequest | DetectRequest | RetextureRequest | RegenerateRequest | RetopoRequest | PartsRequest
T = TypeVar("T")


class StepEngine(Protocol):
    """The engine as a step sees it (``jobs.context.EngineContext``): the device its models run on."""

    @property
    def device(self) -> Any: ...  # a torch.device: torch is imported only where a step runs a model


class StepJob(Protocol):
    """The job as its driver sees it (``jobs.context.Job``): its id, where its events go, its cancel token."""

    @property
    def id(self) -> str: ...

    @property
    def cancel(self) -> CancelToken: ...

    @property
    def emit(self) -> Callable[[Message], None]: ...


@runtime_checkable
class StepContext(Protocol):
    """The job a step runs in. Read-only properties, so that a job's own richer types
    (``EngineContext``, ``Job``) satisfy them."""

    @property
    def request(self) -> Request: ...

    @property
    def options(self) -> JobOptions: ...

    @property
    def manager(self) -> ModelManager: ...

    @property
    def run_folder(self) -> RunFolder: ...

    @property
    def engine(self) -> StepEngine: ...

    @property
    def job(self) -> StepJob: ...

    def stage(self, name: str, doing: str | None = None) -> AbstractContextManager[None]:
        """Time the stage ``name``, measure its peak memory, save the manifest after it; say ``doing``
        (else the name) in its progress."""
        ...

    def progress(self, stage: str, step: int, total: int, message: str) -> None:
        """Say how far ``stage`` is, as a progress event."""
        ...

    def made_by(self) -> MadeBy:
        """What made the job's GLBs: the models they credit, with their licences (``gltf.made_by``)."""
        ...

    def retry_smaller(self, stage: str, first: Callable[[], T], smaller: Callable[[], T], how: str) -> T:
        """``first()``; after running out of memory, said in the manifest and the progress, ``smaller()``."""
        ...

    def note_out_of_memory(self, exc: BaseException, message: str, *, retried: bool) -> None:
        """After ``exc`` ran a step out of memory: free the allocator's cache and say ``message``."""
        ...


def warn(run: StepContext, stage: str, code: str, message: str) -> None:
    """Note what ``run`` went on with in its manifest's warnings (``stage``, ``code``: what a reader filters by) and
    say ``message`` in its progress."""
    run.run_folder.manifest.warnings.append({"stage": stage, "code": code, "message": message})
    run.progress(stage, 1, 1, message)

