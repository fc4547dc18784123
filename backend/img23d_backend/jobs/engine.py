"""The engine: one device, one model manager, one job at a time; each request runs as its kind of job.

``JOBS`` is the one table of job requests: the server takes these requests as jobs (on a worker
thread, one at a time) and ``Engine.run`` runs each as its table says.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Any, Callable

from img23d_protocol import (DetectRequest, DownloadRequest, ErrorCode, GenerateRequest, JobEstimate, JobOptions,
                             JobResult, Message, PartsRequest, PictureRequest, PrintRequest, Progress, ProtocolError,
                             RigRequest, RegenerateRequest, RetextureRequest, RetopoRequest, SuggestRequest,
                             plain_numbers)

from ..env.busy_time import busy_seconds
from ..env.heartbeat import Heartbeat
from ..models import preflight, role_devices
from ..models.registry import paint_steps
from ..models.hub import refuse_unaccepted
from ..catalog import ModelSpec, check_labels, shape_kind
from ..matting.memory import check_matting
from .base import JobRun
from .context import EngineContext, EngineSettings, Job
from .kinds.detect import DetectRun
from .kinds.download import run_download
from .kinds.generate import GenerateRun
from .kinds.job_estimate import request_estimate
from .kinds.parts import PartsRun
from .kinds.picture import PictureRun
from .kinds.prints import run_print
from .kinds.rig import RigRun
from .kinds.regenerate import RegenerateRun
from .kinds.retexture import RetextureRun
from .kinds.retopo import RetopoRun
from .kinds.suggest import SuggestRun

__all__ = ["JOBS", "Engine", "EngineSettings", "Job"]

Runner = Callable[["Engine", Any, Job], JobResult]
log = logging.getLogger(__name__)


class Engine(EngineContext):
    """Runs the jobs of ``JOBS``; keeps models between jobs through its manager."""

    def run(self, request: Message, job: Job) -> JobResult:
        """Run ``request`` as its kind of job; its typed result (``img23d_protocol.results``)."""
        runner = JOBS.get(type(request))
        if runner is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{request.TYPE!r} is not a job")
        return runner(self, request, job)

    def estimate(self, request: GenerateRequest) -> JobEstimate:
        """(1.29) What a Generate of ``request``'s fields would take here, every stage: the estimate its own run is
        weighed by before its run folder (``GenerateRun.refuse_long``), so the add-on that asks refuses what the
        backend would. Nothing is read (not the picture) or written."""
        return request_estimate(self, GenerateRun, request)

    def run_kind(self, kind: type[JobRun[Any]], request: Any, job: Job) -> JobResult:
        """``request`` as a job of ``kind``: checked, then run in a run folder of its own."""
        # The checks before the run can take a while on a busy CPU (the device's speed is measured
        # once for the estimates): while they work, they say so, as a stage does (env.heartbeat).
        with Heartbeat(lambda seconds: job.emit(Progress(job=job.id, stage="prepare", step=0, total=1,
                                                         message=f"prepare: still working, {seconds:.0f} s so far")),
                       busy_seconds):
            run = self._prepared(kind, request, job)
        return run.run()

    def _prepared(self, kind: type[JobRun[Any]], request: Any, job: Job) -> JobRun[Any]:
        """``request`` checked (before anything is written) and its run made, with its folder."""
        options = getattr(request, "options", None)
        if isinstance(options, JobOptions):  # the Python API's requests reach here unchecked (the wire's are read)
            request.options = options = plain_numbers(options)
            options.validate()
        kind.check_request(request)
        kind.check_models(request, self)
        if "shape" in self.manager.roles:
            # 0 is the shape model's own octree: decided here, before the preflight counts it and the
            # run's manifest records it, so both see the resolution that runs.
            request.options = replace(request.options, octree_resolution=shape_kind(
                self.manager.spec("shape")).octree_for(request.options.octree_resolution))
        if request.options.paint_steps and "paint" in self.manager.roles:
            request.options = _paint_steps_that_run(request.options, self.manager.spec("paint"))
        kind.check_memory(request, self)
        # The models kept in RAM beside a GPU (--device-for ROLE=cpu) must fit there at all.
        role_devices.check_ram_roles(self.ram_sizes(), self.manager.role_devices, preflight.total_room(self.device))
        if "matting" in kind.roles_used(request) and "matting" in self.manager.roles:
            # The matting model's side decides its memory (a 2048 side: four times a 1024 one's), on its device.
            check_matting(self.manager.spec("matting"), self.manager.device_of("matting"))
        if "shape" in self.manager.roles:
            check_labels(self.manager.spec("shape"), request.options.symmetry, request.options.sharpness)
        # Nothing is downloaded (or written) when a model it needs has a licence nobody accepted.
        # (Offline, nothing is downloaded anyway: a missing model is then model_missing.)
        if not self.offline():
            accepted = self.settings.accepted_licences | set(request.options.accepted_licences)
            refuse_unaccepted([self.manager.spec(role) for role in kind.roles_used(request)
                               if role in self.manager.roles], accepted)
        # A job that would take an hour or more here starts only when the artist accepted it: asked after the
        # licences, so a job nobody may run is not first asked about its length.
        kind.refuse_long(request, self)
        request.options = seeded(request.options)
        run = kind(self, request, job, kind.make_folder(self, request, job))
        job.run_folder = run.run_folder
        return run


def _paint_steps_that_run(options: JobOptions, spec: ModelSpec) -> JobOptions:
    """``options`` with the paint steps its model runs, said when that is fewer than asked (the turbo model's 30):
    they were cut in silence, and the manifest recorded the number asked for."""
    if spec.paint_kind is None:
        return options
    ran = paint_steps(spec, options.paint_steps)
    if ran != options.paint_steps:
        log.warning("%s runs at most %d paint steps: %d asked for, %d run", spec.display, ran, options.paint_steps, ran)
    return replace(options, paint_steps=ran)


def _job_run(kind: type[JobRun[Any]]) -> Runner:
    def runner(engine: Engine, request: Any, job: Job) -> JobResult:
        return engine.run_kind(kind, request, job)
    return runner


# Each job request and what runs it: the one dispatch table (the server's job handling reads it).
JOBS: dict[type[Message], Runner] = {
    GenerateRequest: _job_run(GenerateRun), DetectRequest: _job_run(DetectRun), SuggestRequest: _job_run(SuggestRun),
    RetextureRequest: _job_run(RetextureRun), RetopoRequest: _job_run(RetopoRun), PartsRequest: _job_run(PartsRun), RigRequest: _job_run(RigRun),
    RegenerateRequest: _job_run(RegenerateRun), PictureRequest: _job_run(PictureRun), DownloadRequest: run_download,
    PrintRequest: run_print,  # (1.28) no model and no run folder of its own: into the run it prints, as the CLI's
}


# Drawn seeds stay below 2**31: Blender's integer fields are 32-bit, and the artist who wants the
# result again types the seed the job reports into the panel's Seed.
RANDOM_SEED_LIMIT = 2**31


def seeded(options: JobOptions) -> JobOptions:
    """``options`` with a newly drawn seed when they ask for a random one (``random_seed``);
    the run's manifest and result then record the seed that was used."""
    if not options.random_seed:
        return options
    return replace(options, seed=secrets.randbelow(RANDOM_SEED_LIMIT))
