"""The engine: one device, one model manager, one job at a time; each request runs as its kind of job."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from img23d_protocol import (DetectRequest, ErrorCode, GenerateRequest, JobOptions, ProtocolError, RegenerateRequest,
                             RetextureRequest, RetopoRequest, SuggestRequest)

from ..models.hub import offline_requested, refuse_unaccepted
from ..models.registry import SHAPE, ModelSpec, shape_kind
from .base import JobRun
from .context import EngineContext, EngineSettings, Job
from .detect import DetectRun
from .generate import GenerateRun
from .regenerate import RegenerateRun
from .retexture import RetextureRun
from .retopo import RetopoRun
from .suggest import SuggestRun

__all__ = ["Engine", "EngineSettings", "Job"]


class Engine(EngineContext):
    """Runs generate, detect, suggest, re-texture and retopo jobs; keeps models between jobs through its manager."""

    def generate(self, request: GenerateRequest, job: Job) -> dict[str, Any]:
        return self._run(GenerateRun, request, job)

    def detect(self, request: DetectRequest, job: Job) -> dict[str, Any]:
        return self._run(DetectRun, request, job)

    def retexture(self, request: RetextureRequest, job: Job) -> dict[str, Any]:
        return self._run(RetextureRun, request, job)

    def retopo(self, request: RetopoRequest, job: Job) -> dict[str, Any]:
        return self._run(RetopoRun, request, job)

    def suggest(self, request: SuggestRequest, job: Job) -> dict[str, Any]:
        return self._run(SuggestRun, request, job)

    def regenerate(self, request: RegenerateRequest, job: Job) -> dict[str, Any]:
        return self._run(RegenerateRun, request, job)

    def _run(self, kind: type[JobRun], request: Any, job: Job) -> dict[str, Any]:
        # The request is checked before anything is written; the run then always has its folder.
        kind.check_request(request)
        kind.check_models(request, self)
        if "shape" in self.manager.roles:
            # 0 is the shape model's own octree: decided here, before the preflight counts it and the
            # run's manifest records it, so both see the resolution that runs.
            request.options = replace(request.options, octree_resolution=shape_kind(
                self.manager.spec("shape")).octree_for(request.options.octree_resolution))
        kind.check_memory(request, self)
        if "shape" in self.manager.roles:
            check_labels(self.manager.spec("shape"), request.options.symmetry, request.options.sharpness)
        # Nothing is downloaded (or written) when a model it needs has a licence nobody accepted.
        # (Offline, nothing is downloaded anyway: a missing model is then model_missing.)
        offline = offline_requested() if self.settings.offline is None else self.settings.offline
        if not offline:
            accepted = self.settings.accepted_licences | set(request.options.accepted_licences)
            refuse_unaccepted([self.manager.spec(role) for role in kind.roles_used(request)
                               if role in self.manager.roles], accepted)
        request.options = seeded(request.options)
        run = kind(self, request, job, kind.make_folder(self, request, job))
        job.run_folder = run.run_folder
        return run.run()


# Drawn seeds stay below 2**31: Blender's integer fields are 32-bit, and the artist who wants the
# result again types the seed the job reports into the panel's Seed.
RANDOM_SEED_LIMIT = 2**31


def seeded(options: JobOptions) -> JobOptions:
    """``options`` with a newly drawn seed when they ask for a random one (``random_seed``);
    the run's manifest and result then record the seed that was used."""
    if not options.random_seed:
        return options
    return replace(options, seed=secrets.randbelow(RANDOM_SEED_LIMIT))


def check_labels(spec: ModelSpec, symmetry: str, sharpness: str) -> None:
    """Refuse a symmetry or sharpness (other than "auto") for a shape model that takes no label."""
    if (symmetry, sharpness) != ("auto", "auto") and not shape_kind(spec).labels:
        labelled = [name for name, spec_ in SHAPE.items() if shape_kind(spec_).labels]
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"symmetry and sharpness need a shape model that takes labels "
                            f"({', '.join(labelled)}); {shape_kind(spec).label} takes none, so leave them at auto")
