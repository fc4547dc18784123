"""What every job shares: its run folder, stage timing, progress, failures, the out-of-memory retry.

A job that fails half way keeps what it finished, and its manifest says so: every way out of
``run`` closes the manifest with a final status. A target that fails (not found, no surface,
out of memory twice) is reported and the others go on.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, TypeVar

from img23d_protocol import (AnswerSummary, Artifact, ArtifactKind, Error, ErrorCode, JobOptions, JobResult, PictureRequest,
                             Progress, ProtocolError, RigRequest, SuggestRequest)

from .. import __version__
from ..env import failpoints
from ..env.busy_time import busy_seconds
from ..env.heartbeat import Heartbeat
from ..gltf.made_by import MadeBy, carried_from, made_by
from ..grounding import driver as ask
from ..models import placement, step_costs
from ..models.memory import PeakMeter
from ..models.oom import is_out_of_memory
from ..readers.images import LoadedImage, load_image
from ..runs.folders import PICTURE_FILE, Manifest, RunFolder, TargetRecord, disk_error
from ..stages import skips
from ..stages.step_context import Request
from .context import EngineContext, Job

log = logging.getLogger(__name__)

T = TypeVar("T")
# The request a kind of job runs: each kind is a ``JobRun[ItsRequest]``, so that its checks take that
# request and its body reads that request's fields (the rig and suggest requests reach no step).
R = TypeVar("R", bound=Request | SuggestRequest | RigRequest | PictureRequest)


class JobRun(Generic[R]):
    """One job from its checked request (``R``) to its closed manifest; subclasses write ``body``. The
    steps it calls into see it as their ``stages.step_context.StepContext``."""

    kind = ""
    request: R

    def __init__(self, engine: EngineContext, request: R, job: Job, run_folder: RunFolder) -> None:
        self.engine = engine
        self.request = request
        self.job = job
        self.options: JobOptions = request.options
        self.manager = engine.manager
        self.run_folder = run_folder
        self._counters_before = self.manager.counters()
        self.manager.reset_pinned_peak()
        self.answer_summary: dict[str, Any] = {}  # how the grounding answer ended (``ground``), if one was asked
        self._steps: dict[str, tuple[int, int]] = {}  # each stage's last (step, total): what its heartbeat says
        self._made_by: MadeBy | None = None

    @classmethod
    def check_request(cls, request: R) -> None:
        """Refuse a request that cannot run, before its run folder is made."""
        if not request.image:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "no image given")

    @classmethod
    def check_models(cls, request: R, engine: EngineContext) -> None:
        """Refuse a job the engine's model set cannot do at all, before the run folder."""

    @classmethod
    def check_memory(cls, request: R, engine: EngineContext) -> None:
        """Refuse settings this machine cannot hold for even one target, before the run folder."""

    @classmethod
    def refuse_long(cls, request: R, engine: EngineContext) -> None:
        """Refuse a job whose slow optional steps (completion, materials) would take an hour or more here, unless
        its options accept it (a Generate weighs its whole estimate instead: ``GenerateRun``)."""
        step_costs.refuse_long_job(engine.step_costs(request), cls.roles_used(request), request)

    @classmethod
    def roles_used(cls, request: R) -> tuple[str, ...]:
        """The models the job may load: those whose licences must allow a download before it starts."""
        return ("grounding",)

    @classmethod
    def make_folder(cls, engine: EngineContext, request: R, job: Job) -> RunFolder:
        """The run's own folder, with a manifest that says ``running`` until the job ends."""
        manifest = Manifest(job_id=job.id, kind=cls.kind, backend_version=__version__,
                            targets=list(getattr(request, "targets", [])), options=asdict(request.options),
                            device=str(engine.device),
                            models={role: {**_model_record(engine.manager.spec(role)), **engine.runtime_record(role)}
                                    for role in engine.manager.roles})
        return RunFolder.create(job.runs_dir or cls.runs_dir(engine, request), cls.folder_label(request), manifest)

    @classmethod
    def runs_dir(cls, engine: EngineContext, request: R) -> Path:
        """The folder that holds this job's run folder."""
        return engine.settings.runs_dir

    @classmethod
    def folder_label(cls, request: R) -> str:
        """What the run folder's name says after its time stamp (the picture's name, without its suffix)."""
        return Path(request.image).stem

    def body(self) -> JobResult:
        """The job's work; returns its result, with the seed it used (``options.seed``, also when it was drawn)."""
        raise NotImplementedError

    def run(self) -> JobResult:
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.RUN, path=str(self.run_folder.root)))
        self.manager.download_progress = self._download_progress
        self.manager.accepted_licences = self.engine.settings.accepted_licences | set(self.options.accepted_licences)
        try:
            result = self.body()
            self._close("finished")
        except ProtocolError as exc:
            self._close("cancelled" if exc.code is ErrorCode.CANCELLED else "failed", exc)
            raise
        except MemoryError as exc:
            error = ProtocolError(ErrorCode.OUT_OF_MEMORY, "ran out of memory", str(exc))
            self._close("failed", error)
            raise error from exc
        except Exception as exc:  # the boundary: anything unexpected becomes `internal`, with the trace logged
            error = _classify(exc)
            log.error("job %s failed:\n%s", self.job.id, traceback.format_exc())
            self._close("failed", error)
            raise error from exc
        finally:
            self.manager.download_progress = None
            self.manager.accepted_licences = self.engine.settings.accepted_licences
        return result

    def _close(self, status: str, error: ProtocolError | None = None) -> None:
        manifest = self.run_folder.manifest
        if error is not None:
            manifest.errors.append({"code": error.code.value, "message": error.message, "detail": error.detail})
        after = self.manager.counters()
        manifest.model_counters = {role: asdict(after[role].minus(self._counters_before[role])) for role in after}
        manifest.pinned_host_bytes = {"peak": self.manager.pinned_peak, "end": self.manager.pinned_bytes()}
        try:
            self.run_folder.finish(status)
        except ProtocolError as exc:  # a full disk must not hide the job's own error
            log.error("could not write the final manifest: %s", exc)

    # -- stages and progress -------------------------------------------------------------------

    @contextmanager
    def stage(self, name: str, doing: str | None = None) -> Iterator[None]:
        """Time a stage, measure its peak memory, save the manifest after it; while it runs busy, say
        so now and then (``env.heartbeat``: a long step keeps the add-on's watchdog from stopping it),
        as ``doing`` where given (else the stage's name)."""
        self.job.cancel.check()
        saying = doing or name
        self.progress(name, 0, 1, f"{saying}...")
        started = time.perf_counter()
        meter = PeakMeter(self.engine.device)
        # The heartbeat repeats the stage's own step: its 0 of 1 dropped the panel's bar to nothing mid-stage.
        with meter, Heartbeat(lambda seconds: self.progress(name, *self._steps.get(name, (0, 1)), f"{saying}: still "
                                                            f"working, {seconds:.0f} s so far"), busy_seconds):
            failpoints.hit(name)
            yield
        manifest = self.run_folder.manifest
        manifest.timings[name] = round(manifest.timings.get(name, 0.0) + time.perf_counter() - started, 4)
        manifest.memory_peaks[name] = max(manifest.memory_peaks.get(name, 0), meter.peak)
        self.run_folder.save_manifest()

    def progress(self, stage: str, step: int, total: int, message: str) -> None:
        self._steps[stage] = (step, total)
        self.job.emit(Progress(job=self.job.id, stage=stage, step=step, total=total, message=message))

    def made_by(self) -> MadeBy:
        """What made this job's GLBs (their ``asset``: ``gltf.made_by``): the models an input mesh names (a rig
        or a re-texture of a Generate GLB keeps them), then every model of the roles this job uses, each
        repository a model reads from named with its own licence. Read once a job."""
        if self._made_by is None:
            mesh = getattr(self.request, "mesh", "")
            roles = [role for role in self.roles_used(self.request) if role in self.manager.roles]
            own = made_by((role, part.repo_id) for role in roles for part in self.manager.spec(role).parts)
            self._made_by = (carried_from(mesh) if mesh else MadeBy()).plus(own)
        return self._made_by

    def answer(self) -> AnswerSummary | None:
        """How the grounding answer ended, for the result; None when no grounding was asked."""
        return AnswerSummary(**self.answer_summary) if self.answer_summary else None

    def _download_progress(self, message: str, done: int, total: int) -> None:
        self.progress("download", done, total, message)

    def fail_target(self, record: TargetRecord, error: ProtocolError) -> None:
        record.status = "failed"
        record.error = {"code": error.code.value, "message": error.message}
        self.job.emit(Error.from_exception(self.job.id, error))

    def keep_target(self, record: TargetRecord, exc: BaseException, doing: str, kept: str,
                    *, memory_code: bool = True) -> None:
        """After ``exc`` stopped ``doing`` (a step that serves a mesh already made) for ``record``'s
        target: the target stays done, kept ``kept``, and says why in its record and an ``Error``
        event; a cancel is raised again. ``memory_code``: running out of memory is reported as
        ``out_of_memory`` (else, as any other failure, ``internal``)."""
        if isinstance(exc, ProtocolError):
            if exc.code is ErrorCode.CANCELLED:
                raise exc
            failure = exc
        else:
            log.error("%s %s failed:\n%s", doing, record.target, "".join(traceback.format_exception(exc)))
            code = ErrorCode.OUT_OF_MEMORY if memory_code and is_out_of_memory(exc) else ErrorCode.INTERNAL
            failure = ProtocolError(code, skips.reason(exc))
        record.error = {"code": failure.code.value,
                        "message": f"{doing} {record.target!r} failed ({failure.message}); kept it {kept}"}
        self.job.emit(Error(id=self.job.id, code=failure.code.value, message=record.error["message"],
                            target=record.target))

    # -- running out of memory ------------------------------------------------------------------

    def retry_smaller(self, stage: str, first: Callable[[], T], smaller: Callable[[], T], how: str) -> T:
        """``first()``; if it runs out of memory, free the allocator's cache, say so in the
        manifest and the progress, and return ``smaller()`` (anything else propagates)."""
        try:
            return first()
        except Exception as exc:  # only out-of-memory is retried
            if not is_out_of_memory(exc):
                raise
            message = f"{stage} ran out of memory ({type(exc).__name__}); retried {how}"
            self.note_out_of_memory(exc, message, retried=True)
            self.progress(stage, 0, 1, message)
        return smaller()

    def note_out_of_memory(self, exc: BaseException, message: str, *, retried: bool) -> None:
        """After ``exc`` ran a step out of memory: free the allocator's cache, and say ``message``
        in the log and among the manifest's errors (``retried``: the step is tried again smaller)."""
        placement.release_cached_memory()
        log.warning(message)
        error = {"code": ErrorCode.OUT_OF_MEMORY.value, "message": message, "detail": str(exc)[:300]}
        self.run_folder.manifest.errors.append({**error, "retried": True} if retried else error)

    # -- steps more than one kind of job takes ------------------------------------------------

    def load_input(self) -> LoadedImage:
        with self.stage("load"):
            image = load_image(self.request.image)
            self.run_folder.keep_private(image.permissions)
            saved = self.run_folder.write_image(PICTURE_FILE, image.image, image.permissions)
            self.run_folder.manifest.image = {"source": str(Path(self.request.image).resolve()),
                                              "copy": self.run_folder.relative(saved), **image.manifest_fields()}
        return image

    def ground(self, image: LoadedImage, targets: list[str] | None = None) -> list[ask.TargetMatch]:
        """Where ``targets`` (the request's names unless given) are in the picture (``grounding.driver.find``):
        each name's boxes, also written to detections.json. How the answer ended is kept in
        ``answer_summary`` for the job's result."""
        targets = list(self.request.targets if targets is None else targets)
        options = ask.GroundingOptions.from_spec(self.manager.spec("grounding").options)
        with self.stage("grounding"):
            with self.manager.use("grounding") as grounder:
                found = ask.find(grounder, image.image, targets, options=options, cancel=self.job.cancel,
                                 progress=self.progress, keep=self.options.keep)
            answer, matches = found.answer, found.matches
            width, height = image.size
            self.answer_summary = {"stop_reason": answer.stop_reason.value, "cut_off": answer.cut_off,
                                   "answer_tokens": answer.tokens, "token_budget": answer.budget,
                                   "duplicates_dropped": answer.duplicates_dropped}
            self._warn_about_answer(answer)
            self.run_folder.write_json("detections.json", {
                "image_size": [width, height], "original_size": list(image.original_size),
                "coords": "pixels of image_size", "raw_answer": answer.text, **self.answer_summary,
                "detections": [d.to_dict() for d in answer.detections],
                "matches": {m.target: [d.to_dict() for d in m.detections] for m in matches},
            })
            overlay = self.run_folder.write_image("detections.png", ask.draw_matches(image.image, matches))
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.DETECTIONS,
                               path=str(self.run_folder.path("detections.json"))))
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.OVERLAY, path=str(overlay)))
        return matches

    def _warn_about_answer(self, answer: ask.GroundingAnswer) -> None:
        """A cut-off or repeating answer goes on, with a warning in the log and the manifest."""
        found, duplicates = [], answer.duplicates_dropped
        if answer.cut_off:
            found.append(("answer_cut_off", f"the grounding model's answer was cut off at {answer.tokens} tokens "
                                            "(its budget): names after the cut may be missing"))
        if answer.stop_reason is ask.StopReason.REPETITION or duplicates:
            stopped = " and was stopped" if answer.stop_reason is ask.StopReason.REPETITION else ""
            found.append(("answer_repeated", f"the grounding model repeated boxes{stopped} after {answer.tokens} "
                                             f"tokens; {duplicates} repeated box(es) dropped"))
        for code, message in found:
            log.warning(message)
            self.run_folder.manifest.warnings.append({"stage": "grounding", "code": code, "message": message,
                                                      "tokens": answer.tokens, "budget": answer.budget})


def check_names_apart(names: list[str]) -> None:
    """``bad_request`` for two names the grounding looks for that its matching takes for one ("house!" and
    "house"): every box went to the first, and the second was said not found."""
    pair = ask.one_name_twice(names)
    if pair is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{pair[0]!r} and {pair[1]!r} are one name to the grounding (the "
                                                   "same words, whatever their case or punctuation): ask for it once")


def _model_record(spec: Any) -> dict[str, Any]:
    record = {"id": spec.repo_id, "revision": spec.revision, "subfolder": spec.subfolder,
              "local_path": str(spec.local_path) if spec.local_path else None}
    if spec.sources:  # a model read from several repositories names each
        record["sources"] = [_model_record(source) for source in spec.sources]
    return record


def _classify(exc: Exception) -> ProtocolError:
    """Map library exceptions we can name to codes; everything else is `internal`."""
    if is_out_of_memory(exc) or "out of memory" in str(exc).lower():
        return ProtocolError(ErrorCode.OUT_OF_MEMORY, "the device ran out of memory", str(exc)[:500])
    if isinstance(exc, OSError):
        return disk_error(exc, "a file operation failed")
    return ProtocolError(ErrorCode.INTERNAL, f"unexpected {type(exc).__name__}: {exc}"[:500])
