"""Stop Backend during a job on another machine (issue 34, item 4): the job ends with one sentence,
its transfers are closed (the half-fetched file's temporary file removed), and the next job can
start. The session is the add-on's own; its process a stand-in whose output the test writes."""

from __future__ import annotations

import io
from pathlib import Path


from img23d_client import process as process_mod
from img23d_client import session as session_mod
from img23d_client import events as events_mod
from img23d_client import remote as remote_mod
protocol = session_mod.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261124-120000-house"


class StandInProcess:
    """The far side of a BackendProcess: what the add-on sends is kept, what it reads the test writes."""

    started: list["StandInProcess"] = []

    def __init__(self, settings) -> None:
        self.settings, self.events, self.sent = settings, events_mod.EventQueue(), []
        self.alive, self.started_at = False, 0.0
        StandInProcess.started.append(self)

    def start(self) -> None:
        self.alive = True
        self.say(protocol.Hello(role="backend", version="stand-in", device="cpu", runs_dir=REMOTE))

    def say(self, message) -> None:
        self.events.put(protocol.decode(message.to_line(), protocol.EVENT_TYPES))

    def send(self, message) -> None:
        self.sent.append(message)

    def stop(self, timeout: float = 3.0) -> None:
        self.alive = False

    def kill(self) -> None:
        self.alive = False


def test_stop_during_a_remote_job_closes_its_transfers_and_the_next_job_starts(tmp_path: Path) -> None:
    remote = remote_mod.RemoteHost(host="gpu-box", python="~/env/bin/python", runs_dir=REMOTE)
    settings = process_mod.LaunchSettings(python=Path("/unused"), runs_dir=tmp_path / "mirror", remote=remote)
    session = session_mod.BackendSession(lambda: settings, process_factory=StandInProcess)
    job = session.submit(protocol.GenerateRequest(image=""))
    session.pump()  # the hello: the job goes out
    far = StandInProcess.started[-1]
    assert [m.TYPE for m in far.sent] == ["generate"]
    far.say(protocol.Artifact(job=job, kind="run", path=RUN))
    far.say(protocol.Artifact(job=job, kind="mesh", path=f"{RUN}/house.glb", target="house"))
    session.pump()
    [fetch] = [m for m in far.sent if m.TYPE == "fetch"]
    payload = b"glTF" * 4096
    size, sha = protocol.file_digest(io.BytesIO(payload))
    far.say(protocol.Chunk(id=fetch.id, offset=0, data=protocol.encode_chunk(payload[:1000]), size=size, sha256=sha))
    session.pump()
    run_here = tmp_path / "mirror" / "20261124-120000-house"
    assert len(list(run_here.glob(".tmp-*"))) == 1  # half a mesh on its way

    session.stop(wait=False)
    assert list(run_here.glob(".tmp-*")) == [] and not (run_here / "house.glb").exists()
    [error] = [m for m in session.pump() if isinstance(m, protocol.Error)]
    assert error.id == job and error.message == "the backend was stopped during the job; what already arrived stays"

    again = session.submit(protocol.GenerateRequest(image=""))
    session.pump()
    assert StandInProcess.started[-1] is not far and [m.id for m in StandInProcess.started[-1].sent] == [again]
