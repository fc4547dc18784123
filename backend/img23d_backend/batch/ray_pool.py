"""Workers on a Ray cluster: one actor per GPU (per CPU slot on a cluster without GPUs).

Each actor holds one ``Worker`` (its models stay resident between pictures) and runs one
picture at a time; the driver hands a picture to an actor only when it is free, so at most
one picture per actor is in flight: its bytes go out with the call and its run folder's files
come back with the result. An actor killed mid-picture is restarted by Ray (``max_restarts``)
and its picture is retried by the driver, on another actor when there is one. ``cancel`` runs
beside ``run`` (two concurrent calls per actor), so Ctrl-C closes the running manifests.

Ray is optional (``pip install 'img23d-backend[ray]'``). The driver connects to the cluster
the user names, with the user's environment: a cluster started with ``RAY_AUTH_MODE=token``
needs the same ``RAY_AUTH_TOKEN`` here.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from .pool import DeathWatch, WorkerLost
from .items import WorkerSettings, WorkItem, WorkResult, limit_threads, worker_scratch_cleanup

INSTALL_HINT = "--ray needs Ray, an optional extra: pip install 'img23d-backend[ray]' (or pip install ray==2.60.0)"
RESTARTS = 2          # per actor: given up after more deaths than this that count (``pool.DeathWatch``)
DEAD_AFTER_FAILED_PINGS = 3   # pings in a row that fail: the actor is dead, not restarting
CONNECT_TIMEOUT = 5.0


class BatchActor:
    """The actor's body (made a Ray actor class by ``RayPool``); the same Worker the local pool runs."""

    def __init__(self, settings: WorkerSettings) -> None:
        limit_threads(settings.threads)
        worker_scratch_cleanup()  # scratch folders of actors killed earlier on this node
        # Imported in the actor, not at the top: the driver imports this module and holds no model library.
        from .work import Worker

        self.worker = Worker(settings)

    def name(self) -> str:
        return self.worker.name

    def pid(self) -> int:
        return os.getpid()

    def run(self, item: WorkItem) -> WorkResult:
        return self.worker.run(item)

    def cancel(self) -> None:
        self.worker.cancel()

    def close(self) -> None:
        self.worker.close()


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, INSTALL_HINT) from exc
    return ray


def connect(address: str) -> Any:
    """``ray.init`` to an existing cluster; an unreachable one is one sentence, quickly."""
    ray = import_ray()
    if address != "auto" and not address.startswith("ray://"):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"--ray {address} is not an address: give the cluster's as "
                                                       "HOST:PORT (its GCS port, 6379 unless set), or auto")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
                pass
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no Ray cluster answers at {address} ({reason}): start one "
                                                       "with 'ray start --head', or give its address as HOST:PORT") from exc
        # Something answers: ray.init then retried for ever against a port that is not Ray's (a dashboard's, a
        # client server's), with no img23d sentence. Ray's GCS speaks gRPC, which answers HTTP/2's opening in the
        # clear (a cluster with TLS, RAY_USE_TLS, answers a TLS handshake instead: not asked).
        if os.environ.get("RAY_USE_TLS", "0").strip().lower() not in ("1", "true") \
                and not speaks_http2(host, int(port)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"what answers at {address} is not a Ray cluster's address "
                                                       "(its GCS port, which 'ray start --head' prints: 6379 unless "
                                                       "set; not the dashboard's)")
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        # Ray's own error names no reason for a refused token (only its log lines above do): the likely one is said.
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"could not join the Ray cluster at {address}: "
                                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__} "
                                                   "(a cluster started with RAY_AUTH_MODE=token needs its "
                                                   "RAY_AUTH_TOKEN set here too)") from exc
    return ray


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])   # and an empty SETTINGS


def speaks_http2(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Whether the server at ``host:port`` answers HTTP/2's client preface with a SETTINGS frame, as a gRPC
    server (Ray's GCS) does at once; an HTTP/1 server answers otherwise or not at all."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(HTTP2_PREFACE)
            header = b""
            while len(header) < 9:
                piece = conn.recv(9 - len(header))
                if not piece:
                    break
                header += piece
    except OSError:
        return False
    return len(header) == 9 and header[3] == 0x04   # frame type 4: SETTINGS


class RayPool:
    """``count`` actors on the cluster ``ray`` is connected to.

    An actor takes pictures only once it has answered a ping (``name``): one the cluster cannot
    place, or whose node is gone, never answers, and the driver gives it up after its start
    timeout (``give_up``); one whose constructor raised answers with ``ActorDiedError`` and is
    dead at once, its error kept for the "no worker left" sentence. The same holds after each
    restart (a death mid-picture, or ``interrupt`` of a picture past its time limit).
    """

    def __init__(self, ray: Any, settings: WorkerSettings, count: int) -> None:
        self.ray = ray
        gpus = int(ray.cluster_resources().get("GPU", 0))
        resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        # Restarted by Ray whenever it dies; this pool gives an actor up (``give_up``) after more than ``RESTARTS``
        # deaths that count (``pool.DeathWatch``: a picture that kills its worker is bounded by its own --attempts).
        actor_class = ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=2,
                                 **resources)(BatchActor)
        self.actors = [actor_class.remote(settings) for _ in range(count)]
        self._names = [f"ray-{i}" for i in range(count)]
        self._deaths = [0] * count         # each actor's deaths that counted (``DeathWatch``)
        self._watch = DeathWatch()
        self._pictures: dict[Any, int] = {}   # object ref -> the picture it runs
        self._dead: set[int] = set()
        self._gone: str | None = None
        self._busy: dict[Any, int] = {}    # object ref -> actor
        # Actors not (yet, or again) able to take a picture: their ping, and since when. A call sent
        # to an actor Ray is restarting could fail as "unavailable" without ever running.
        self._starting: dict[int, tuple[Any, float]] = {i: (self.actors[i].name.remote(), time.monotonic())
                                                        for i in range(count)}
        self._stale: dict[int, str] = {}   # actor -> the name its killed process answered with
        self._failed_pings = [0] * count

    def live(self) -> list[int]:
        return [i for i in range(len(self.actors)) if i not in self._dead]

    def idle(self) -> list[int]:
        busy = set(self._busy.values())
        return [i for i in self.live() if i not in busy and i not in self._starting]

    def starting(self) -> dict[int, float]:
        self._ping_starting()
        return {i: since for i, (_, since) in self._starting.items() if i not in self._dead}

    def name(self, worker: int) -> str:
        return f"ray-{worker}"

    def gone_reason(self) -> str | None:
        return self._gone

    def submit(self, worker: int, item: WorkItem) -> None:
        ref = self.actors[worker].run.remote(item)
        self._busy[ref], self._pictures[ref] = worker, item.index

    def pid(self, worker: int, timeout: float = 120) -> int:
        """The actor's process id (asked of the actor itself)."""
        return int(self.ray.get(self.actors[worker].pid.remote(), timeout=timeout))

    def wait(self, timeout: float) -> list[tuple[int, WorkResult | WorkerLost]]:
        self._ping_starting()
        if not self._busy:
            time.sleep(min(timeout, 0.2))
            return []
        ready, _ = self.ray.wait(list(self._busy), num_returns=len(self._busy), timeout=timeout)
        ended: list[tuple[int, WorkResult | WorkerLost]] = []
        for ref in ready:
            worker, picture = self._busy.pop(ref, None), self._pictures.pop(ref, None)
            if worker is None:
                continue  # the call of a picture given up (interrupted) meanwhile
            try:
                ended.append((worker, self.ray.get(ref)))
                self._watch.made()
            except self.ray.exceptions.RayActorError as exc:
                self._died(worker, f"it died during a picture ({type(exc).__name__})", picture)
                ended.append((worker, WorkerLost(self._names[worker], f"the worker {self._names[worker]} died during "
                                                                      f"this picture ({type(exc).__name__})")))
            except self.ray.exceptions.RayError as exc:  # the call itself failed (e.g. a result that cannot travel)
                ended.append((worker, WorkerLost(self._names[worker], f"{type(exc).__name__}: {exc}"[:300])))
        return ended

    def _died(self, worker: int, how: str, picture: int | None) -> None:
        """Ray starts the actor again (it died, or was killed past a picture's time), unless its deaths that count
        (``DeathWatch``: during ``picture``, or outside one) are more than ``RESTARTS``."""
        self._deaths[worker] += int(self._watch.counts(picture))
        if self._deaths[worker] > RESTARTS:
            self.give_up(worker, f"the worker ray-{worker} died too often ({how})")
        else:
            self._starting[worker] = (self.actors[worker].name.remote(), time.monotonic())

    def _ping_starting(self) -> None:
        for worker, (ping, since) in list(self._starting.items()):
            ready, _ = self.ray.wait([ping], timeout=0)
            if not ready:
                continue
            try:
                name = self.ray.get(ping)
            except self.ray.exceptions.RayError as exc:
                died = isinstance(exc, self.ray.exceptions.ActorDiedError)
                failures = self._failed_pings[worker] = self._failed_pings[worker] + int(died)
                # Its constructor raised: dead at once. A ping lost with a dying process fails too, but
                # a restarting actor queues the next; one that keeps failing is dead for good.
                if getattr(exc, "actor_init_failed", False) or failures >= DEAD_AFTER_FAILED_PINGS:
                    how = "could not start" if getattr(exc, "actor_init_failed", False) else "is dead"
                    self.give_up(worker, f"the worker ray-{worker} {how}: {_last_line(exc)}")  # Ray stops restarting it
                else:
                    self._starting[worker] = (self.actors[worker].name.remote(), since)  # ask again
                continue
            self._failed_pings[worker] = 0
            if self._stale.get(worker) == name:  # the killed process answered before its end: ask again
                self._starting[worker] = (self.actors[worker].name.remote(), since)
                continue
            self._stale.pop(worker, None)
            self._names[worker] = f"ray-{worker} ({name})"
            del self._starting[worker]

    def interrupt(self, worker: int) -> None:
        picture = None
        for ref, busy in list(self._busy.items()):
            if busy == worker:
                del self._busy[ref]
                picture = self._pictures.pop(ref, None)
        self._stale[worker] = self._names[worker].split(" (", 1)[-1].rstrip(")")
        try:
            self.ray.kill(self.actors[worker], no_restart=False)  # Ray starts it again: a fresh process
        except self.ray.exceptions.RayError:
            pass
        self._died(worker, "stopped: a picture ran past its time limit", picture)

    def give_up(self, worker: int, reason: str) -> None:
        try:
            self.ray.kill(self.actors[worker], no_restart=True)
        except self.ray.exceptions.RayError:
            pass
        self._dead.add(worker)
        self._starting.pop(worker, None)
        self._gone = reason

    def cancel(self) -> None:
        for worker in set(self._busy.values()):
            self.actors[worker].cancel.remote()

    def close(self) -> None:
        closing = [self.actors[i].close.remote() for i in self.live() if i not in self._starting]
        try:
            self.ray.wait(closing, num_returns=len(closing), timeout=10)  # their scratch folders go
        except self.ray.exceptions.RayError:
            pass
        for actor in self.actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except self.ray.exceptions.RayError:
                pass
        self.ray.shutdown()


def _last_line(exc: BaseException) -> str:
    """The error at the end of a Ray traceback (``RuntimeError: ...``), for one sentence."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]
