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

import socket
import time
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from .pool import WorkerLost
from .work import Worker, WorkItem, WorkResult, WorkerSettings, limit_threads, worker_scratch_cleanup

INSTALL_HINT = "--ray needs Ray, an optional extra: pip install 'img23d-backend[ray]' (or pip install ray==2.60.0)"
RESTARTS = 2          # per actor: a worker killed more often than this is given up
CONNECT_TIMEOUT = 5.0


class BatchActor:
    """The actor's body (made a Ray actor class by ``RayPool``); the same Worker the local pool runs."""

    def __init__(self, settings: WorkerSettings) -> None:
        limit_threads(settings.threads)
        worker_scratch_cleanup()  # scratch folders of actors killed earlier on this node
        self.worker = Worker(settings)

    def name(self) -> str:
        return self.worker.name

    def pid(self) -> int:
        import os

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
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT):
                pass
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no Ray cluster answers at {address} ({reason}): start one "
                                                       "with 'ray start --head', or give its address as HOST:PORT") from exc
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"could not join the Ray cluster at {address}: "
                                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return ray


class RayPool:
    """``count`` actors on the cluster ``ray`` is connected to."""

    def __init__(self, ray: Any, settings: WorkerSettings, count: int) -> None:
        self.ray = ray
        gpus = int(ray.cluster_resources().get("GPU", 0))
        resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        actor_class = ray.remote(max_restarts=RESTARTS, max_task_retries=0, max_concurrency=2,
                                 **resources)(BatchActor)
        self.actors = [actor_class.remote(settings) for _ in range(count)]
        self._names = [f"ray-{i}" for i in range(count)]
        self._name_refs = {actor.name.remote(): i for i, actor in enumerate(self.actors)}
        self._deaths = [0] * count
        self._dead: set[int] = set()
        self._busy: dict[Any, int] = {}    # object ref -> actor
        # Actors Ray is restarting after a death: no picture until a ping comes back (a call sent
        # meanwhile could fail as "unavailable" without ever running).
        self._restarting: dict[int, Any] = {}  # actor -> its ping (None: ping again)

    def live(self) -> list[int]:
        return [i for i in range(len(self.actors)) if i not in self._dead]

    def idle(self) -> list[int]:
        busy = set(self._busy.values())
        return [i for i in self.live() if i not in busy and i not in self._restarting]

    def name(self, worker: int) -> str:
        return f"ray-{worker}"

    def submit(self, worker: int, item: WorkItem) -> None:
        self._busy[self.actors[worker].run.remote(item)] = worker

    def pid(self, worker: int, timeout: float = 120) -> int:
        """The actor's process id (asked of the actor itself)."""
        return int(self.ray.get(self.actors[worker].pid.remote(), timeout=timeout))

    def wait(self, timeout: float) -> list[tuple[int, WorkResult | WorkerLost]]:
        self._learn_names()
        self._ping_restarting()
        if not self._busy:
            time.sleep(min(timeout, 0.2))
            return []
        ready, _ = self.ray.wait(list(self._busy), num_returns=len(self._busy), timeout=timeout)
        ended: list[tuple[int, WorkResult | WorkerLost]] = []
        for ref in ready:
            worker = self._busy.pop(ref)
            try:
                ended.append((worker, self.ray.get(ref)))
            except self.ray.exceptions.RayActorError as exc:
                self._deaths[worker] += 1
                if self._deaths[worker] > RESTARTS:  # Ray restarts it no more
                    self._dead.add(worker)
                else:
                    self._restarting[worker] = None
                ended.append((worker, WorkerLost(self._names[worker], f"the worker {self._names[worker]} died during "
                                                                      f"this picture ({type(exc).__name__})")))
            except self.ray.exceptions.RayError as exc:  # the call itself failed (e.g. a result that cannot travel)
                ended.append((worker, WorkerLost(self._names[worker], f"{type(exc).__name__}: {exc}"[:300])))
        return ended

    def _ping_restarting(self) -> None:
        for worker, ping in list(self._restarting.items()):
            if ping is None:
                self._restarting[worker] = self.actors[worker].name.remote()
                continue
            ready, _ = self.ray.wait([ping], timeout=0)
            if not ready:
                continue
            try:
                self._names[worker] = f"ray-{worker} ({self.ray.get(ping)})"
                del self._restarting[worker]
            except self.ray.exceptions.RayActorError:
                self._restarting[worker] = None  # still restarting: ask again next time

    def _learn_names(self) -> None:
        if not self._name_refs:
            return
        ready, _ = self.ray.wait(list(self._name_refs), num_returns=len(self._name_refs), timeout=0)
        for ref in ready:
            worker = self._name_refs.pop(ref)
            try:
                self._names[worker] = f"ray-{worker} ({self.ray.get(ref)})"
            except self.ray.exceptions.RayError:
                pass

    def cancel(self) -> None:
        for worker in set(self._busy.values()):
            self.actors[worker].cancel.remote()

    def close(self) -> None:
        closing = [self.actors[i].close.remote() for i in self.live()]
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
