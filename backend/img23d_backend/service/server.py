"""The JSON-lines service Blender talks to: requests on stdin, events on stdout, logs on stderr.

One job runs at a time, on a worker thread, so the reader stays free to take ``cancel``
and ``status`` while it runs, and the file transfers of a remote add-on (``upload``, ``fetch``:
``transfers.py``; and the list of runs, ``run_index.py``): uploads before the job that reads
them, fetches while it streams meshes; and a Generate's estimate (``estimate``, 1.29) before it
is sent. When stdin closes (Blender quit or crashed) the running job is cancelled and the process
exits: no orphans. Nothing listens on a network port.

Over SSH a lost client does not always close stdin: with the server's ``ClientAliveInterval`` at 0
(OpenSSH's default) a connection whose far end vanished stays open on the host for hours, and the
backend with it, holding the GPU. So the add-on writes an empty line every few seconds, and with
``--client-timeout SECONDS`` the backend ends as if stdin had closed when nothing at all has come
for that long (``_ReadClock`` notes every read; a watchdog thread interrupts the request loop).
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
import traceback
from typing import Any, BinaryIO, Callable, TextIO

from img23d_protocol import (MAX_LINE_BYTES, REQUEST_TYPES, CancelRequest, DeleteRequest, Error, ErrorCode,
                             EstimateRequest, FetchRequest, Hello, Message, ModelsRequest, OverlongLine, Progress,
                             ProtocolError, Result, RunsRequest, ShutdownRequest, StatusRequest, UploadRequest,
                             bounded_lines, check_peer_hello, decode, request_id_of)

from .. import __version__
from ..env.interrupts import Interrupted, exit_code
from ..jobs import Engine, Job
from ..jobs.kinds.download import model_list
from ..jobs.engine import JOBS
from ..models import env_probe
from ..models.cache import delete_model
from ..models.memory import device_memory
from ..runs.folders import recover_interrupted
from .run_index import list_runs, run_files
from .transfers import Fetches, Uploads, clean_uploads
from .warmup import start_warm_up
from .warmup_job import JOB_ID as WARM_UP_JOB
from .warmup_job import WarmUpJob, clean_warm_ups

log = logging.getLogger(__name__)

EXIT_GRACE_SECONDS = 1.0  # how long a cancelled job may take to write its manifest at exit
WAIT_NOTE_SECONDS = 5.0   # how often a job waiting for the warm-up says so
CANCEL_POLL_SECONDS = 0.2  # how soon a job cancelled while it waits for the warm-up ends
STATUS_WAIT_SECONDS = 0.5  # how long status waits for a load or move to let go of the models before it answers


class _ReadClock(io.RawIOBase):
    """``stream`` read one system read at a time, noting when anything last came (even a part of a line)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.last = time.monotonic()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # readinto1: at most one read of the pipe, so a lone keep-alive newline is seen at once.
        reader = getattr(self._stream, "readinto1", None) or self._stream.readinto
        count = reader(buffer)
        self.last = time.monotonic()
        return count


class Server:
    def __init__(self, engine: Engine, stdin: BinaryIO, stdout: TextIO, preload: tuple[str, ...] = (),
                 client_timeout: float = 0.0, warm_up: bool = False) -> None:
        self.engine = engine
        # --warm-up: one small job on a made-up picture after the imports; real jobs wait for it.
        self.warm_up = WarmUpJob() if warm_up else None
        self.client_timeout = client_timeout  # > 0: end when the add-on has sent nothing this long
        self._client_lost = False
        self.preload = preload  # model roles to load right after hello (besides the imports)
        self.stdin = stdin
        self.stdout = stdout
        self._write_lock = threading.Lock()
        self._job_lock = threading.Lock()
        self._job: Job | None = None
        self._job_kind = ""
        self._worker: threading.Thread | None = None
        self._output_broken = False
        self.uploads = Uploads(engine.settings.runs_dir)
        self.fetches = Fetches(engine.settings.runs_dir, self.send)
        # Every job request (``JOBS``) runs on the worker; the others are answered on the reader thread.
        self._handlers: dict[type, Callable[[Any], bool]] = {
            **{kind: self._on_job for kind in JOBS},
            Hello: self._on_hello, CancelRequest: self._on_cancel, StatusRequest: self._on_status,
            ShutdownRequest: self._on_shutdown, ModelsRequest: self._on_models, DeleteRequest: self._on_delete,
            UploadRequest: self._on_upload, FetchRequest: self._on_fetch, RunsRequest: self._on_runs,
            EstimateRequest: self._on_estimate,
        }

    # -- output ----------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Write one protocol line. Safe from any thread."""
        line = message.to_line()
        with self._write_lock:
            if self._output_broken:
                return
            try:
                try:
                    self.stdout.write(line + "\n")
                except UnicodeEncodeError:   # a lone surrogate (a file name not in UTF-8): '?', not a dead pipe
                    self.stdout.write(line.encode("utf-8", "replace").decode("utf-8") + "\n")
                self.stdout.flush()
            except (BrokenPipeError, OSError, ValueError):
                # The reader is gone (Blender died): the stdin EOF that follows ends the process.
                self._output_broken = True

    def send_hello(self) -> None:
        info = self.engine.describe()
        self.send(Hello(role="backend", version=__version__, device=info["device"],
                        device_name=info["device_name"], memory=info["memory"], models=info["models"],
                        environment=env_probe.summary(), limits=info["limits"], costs=info["costs"],
                        runs_dir=str(self.engine.settings.runs_dir.resolve())))

    # -- the loop --------------------------------------------------------------------------

    def serve(self) -> int:
        """Read requests until end of input, ``shutdown`` or a signal; return the exit code."""
        if self.client_timeout > 0:
            clock = _ReadClock(self.stdin)
            self.stdin = io.BufferedReader(clock)
            threading.Thread(target=self._watch_client, args=(clock,), name="client-watch", daemon=True).start()
        try:
            return self._serve()
        except Interrupted as exc:  # SIGTERM, Ctrl-C in Blender's terminal, or the client-watch
            if self._client_lost:
                reason = f"the add-on went away (nothing came from it for {self.client_timeout:g} s)"
                log.info("%s: stopping", reason)
                self._stop_job(wait=EXIT_GRACE_SECONDS, reason=reason)
                return 0
            log.info("%s: stopping", exc)
            self._stop_job(wait=EXIT_GRACE_SECONDS, reason=f"the backend was stopped by {exc}")
            return exit_code(exc.signum)
        finally:
            self.uploads.close()  # a file cut off mid-upload leaves nothing behind
            self.fetches.stop()

    def _serve(self) -> int:
        self.send_hello()
        # After the hello, on a thread: a big runs folder must not delay the handshake.
        threading.Thread(target=self._recover, name="recover-runs", daemon=True).start()
        imports = start_warm_up(self.engine.manager, self.preload)
        if self.warm_up is not None:
            warm = self.warm_up

            def warm_up_job() -> None:
                imports.join()  # the heavy imports first, as they were started
                warm.run(self.engine)
                self.send(Progress(job=WARM_UP_JOB, stage="warm-up", step=1, total=1, message=warm.sentence()))

            threading.Thread(target=warm_up_job, name="img23d-warm-up-job", daemon=True).start()
        # The add-on's own bounded reader: a line over the limit is dropped in pieces, never held.
        for raw in bounded_lines(self.stdin):
            if isinstance(raw, OverlongLine):
                self.send(Error(code=ErrorCode.BAD_REQUEST.value,
                                message=f"request line is longer than {MAX_LINE_BYTES} bytes; it was skipped"))
                continue
            try:
                message = decode(raw, REQUEST_TYPES)
            except ProtocolError as exc:
                self.send(Error.from_exception(request_id_of(raw), exc))
                continue
            try:
                keep_going = self._handlers[type(message)](message)
            except ProtocolError as exc:
                self.send(Error.from_exception(getattr(message, "id", None), exc))
                continue
            except Exception as exc:  # the boundary of one request: a fault in its handling never ends the backend
                log.error("handling %s failed:\n%s", type(message).__name__, traceback.format_exc())
                self.send(Error(id=getattr(message, "id", None), code=ErrorCode.INTERNAL.value,
                                message=f"the backend could not handle this {message.TYPE} request "
                                        f"({type(exc).__name__}: {str(exc)[:200]}); the backend's log has the details"))
                continue
            if not keep_going:
                return 0
        log.info("stdin closed: stopping")
        self._stop_job(wait=EXIT_GRACE_SECONDS, reason="the add-on went away (its pipe closed)")
        return 0

    def _watch_client(self, clock: _ReadClock) -> None:
        """Interrupt the request loop (SIGTERM to the main thread, which the loop takes as a stop)
        once nothing has come from the add-on for ``client_timeout`` seconds."""
        while time.monotonic() - clock.last < self.client_timeout:
            time.sleep(min(1.0, self.client_timeout / 4))
        self._client_lost = True
        if hasattr(signal, "pthread_kill"):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
        else:  # Windows: no thread signals; the process's own SIGTERM ends it (its manifest says how)
            os.kill(os.getpid(), signal.SIGTERM)

    def _recover(self) -> None:
        recover_interrupted(self.engine.settings.runs_dir)
        clean_uploads(self.engine.settings.runs_dir)
        clean_warm_ups(self.engine.settings.runs_dir)

    # -- handlers (return False to stop serving) -------------------------------------------

    def _on_hello(self, message: Hello) -> bool:
        check_peer_hello(message, "add-on")
        return True

    def _on_job(self, request: Any) -> bool:
        if not request.id:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a job request needs an id")
        with self._job_lock:
            if self._job is not None:
                raise ProtocolError(ErrorCode.BUSY, f"job {self._job.id} is still running; cancel it or wait")
            job = Job(id=request.id, emit=self.send)
            self._job, self._job_kind = job, request.TYPE
            self._worker = threading.Thread(target=self._run_job, args=(request, job), name=f"job-{job.id}",
                                            daemon=True)
            self._worker.start()
        return True

    def _run_job(self, request: Message, job: Job) -> None:
        # One job at a time on the engine: the warm-up's first. Meanwhile the job says why it waits (which
        # also tells the add-on's watchdog that the backend is alive).
        # A job cancelled meanwhile ends at once, and frees the backend for the next.
        waited = 0.0
        while self.warm_up is not None and not self.warm_up.done.wait(timeout=CANCEL_POLL_SECONDS):
            if job.cancel.cancelled:
                with self._job_lock:
                    self._job = None
                self.send(Error(id=job.id, code=ErrorCode.CANCELLED.value,
                                message="cancelled while it waited for the backend's warm-up"))
                return
            waited += CANCEL_POLL_SECONDS
            if waited >= WAIT_NOTE_SECONDS:
                waited = 0.0
                self.send(Progress(job=job.id, stage="warm-up", step=0, total=1,
                                   message="waiting for the backend's warm-up to finish"))
        try:
            result: Message = Result(id=job.id, ok=True, data=self.engine.run(request, job).to_dict())
        except ProtocolError as exc:
            result = Error.from_exception(job.id, exc)
        except Exception as exc:  # the thread's boundary: never die silently
            log.exception("job %s crashed", job.id)
            result = Error(id=job.id, code=ErrorCode.INTERNAL.value, message=f"{type(exc).__name__}: {exc}"[:500])
        with self._job_lock:
            self._job = None
        self.send(result)

    def _on_upload(self, request: UploadRequest) -> bool:
        # On the reader thread: a chunk is at most half a MiB, written at once; the job runs on.
        path = self.uploads.take(request)
        if path is not None:
            self.send(Result(id=request.id, ok=True, data={"path": str(path), "size": request.size,
                                                            "sha256": request.sha256}))
        return True

    def _on_fetch(self, request: FetchRequest) -> bool:
        self.fetches.submit(request)  # streamed from the fetch thread: the reader never waits on a file
        return True

    def _on_runs(self, request: RunsRequest) -> bool:
        runs_dir = self.engine.settings.runs_dir
        listing = run_files(runs_dir, request.run) if request.run else list_runs(runs_dir)
        self.send(Result(id=request.id, ok=True, data=listing.to_dict()))
        return True

    def _on_estimate(self, request: EstimateRequest) -> bool:
        # On a thread of its own, beside any job: under a memory cap the estimate reads which models sit on the
        # device, which waits while a load or a move holds them; the reader stays free for cancel and status.
        threading.Thread(target=self._answer_estimate, args=(request,), name=f"estimate-{request.id}",
                         daemon=True).start()
        return True

    def _answer_estimate(self, request: EstimateRequest) -> None:
        try:
            reply: Message = Result(id=request.id, ok=True, data=self.engine.estimate(request).to_dict())
        except ProtocolError as exc:
            reply = Error.from_exception(request.id, exc)
        except Exception as exc:  # the thread's boundary, as a request's: said, never silent
            log.error("the estimate failed:\n%s", traceback.format_exc())
            reply = Error(id=request.id, code=ErrorCode.INTERNAL.value,
                          message=f"the backend could not estimate this job ({type(exc).__name__}: {str(exc)[:200]})")
        self.send(reply)

    def _on_cancel(self, request: CancelRequest) -> bool:
        with self._job_lock:
            job = self._job
        if job is None or (request.job and request.job != job.id):
            self.send(Result(id=request.id, ok=True, data={"cancelled": None}))
            return True
        job.cancel.cancel()
        self.send(Result(id=request.id, ok=True, data={"cancelled": job.id}))
        return True

    def _on_status(self, request: StatusRequest) -> bool:
        with self._job_lock:
            job, kind = self._job, self._job_kind
        self.send(Result(id=request.id, ok=True, data={
            "state": "busy" if job else "idle", "job": job.id if job else None, "kind": kind if job else None,
            "memory": device_memory(self.engine.device).to_dict(),
            "models": self.engine.manager.snapshot(wait=STATUS_WAIT_SECONDS),
            "warm_up": self.warm_up.to_dict() if self.warm_up is not None else None,
        }))
        return True

    # -- the model manager ------------------------------------------------------------------

    def _on_models(self, request: ModelsRequest) -> bool:
        self.send(Result(id=request.id, ok=True, data=model_list(self.engine)))
        return True

    def _on_delete(self, request: DeleteRequest) -> bool:

        with self._job_lock:
            # A job may be reading the very files; a download may be writing them.
            if self._job is not None:
                raise ProtocolError(ErrorCode.BUSY, f"job {self._job.id} is running; delete models when it is done")
            data = delete_model(self.engine.settings.models, request.model)
        self.send(Result(id=request.id, ok=True, data={**data, **model_list(self.engine)}))
        return True

    def _on_shutdown(self, request: ShutdownRequest) -> bool:
        self._stop_job(wait=EXIT_GRACE_SECONDS, reason="the backend was asked to shut down")
        self.send(Result(id=request.id, ok=True, data={"shutdown": True}))
        return False

    def _stop_job(self, wait: float, reason: str) -> None:
        """Cancel the running job; if it cannot stop within ``wait`` (e.g. inside a model load),
        close its manifest here, because the process is about to end under it."""
        with self._job_lock:
            job, worker = self._job, self._worker
        if self.warm_up is not None:
            self.warm_up.stop(wait)   # its folder removed before the process ends under it
        if job is not None:
            job.cancel.cancel()
        if worker is not None:
            worker.join(timeout=wait)
            if worker.is_alive() and job is not None:
                job.abandon(reason)
