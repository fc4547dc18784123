"""The client's quick requests beside jobs: answers land in ``session.replies`` whoever pumps,
and a backend that goes away answers every waiting request with an error."""

from __future__ import annotations

import pytest

from session_waits import reply_within

from img23d_client import session as session_mod
from img23d_client import session

pytestmark = pytest.mark.process  # drives real processes (pytest.ini)
protocol = session.protocol
WAIT = 120.0


def test_a_request_sent_before_the_hello_is_answered_after_it(session) -> None:
    request_id = session.request(protocol.ModelsRequest())
    assert session.state is session_mod.State.STARTING  # queued until the handshake
    reply = reply_within(session, request_id, WAIT)
    assert isinstance(reply, protocol.Result)
    entries = [protocol.ModelEntry.from_dict(item) for item in reply.data["models"]]
    assert entries and all(entry.local and entry.state == "cached" for entry in entries)
    assert session.take_reply(request_id) is None  # taken once


def test_an_awaited_download_job_lands_in_replies_and_frees_the_session(session) -> None:
    session.start()
    session.wait_ready()
    job = session.submit(protocol.DownloadRequest(model="nobody/nothing"))
    session.await_reply(job)
    assert session.job_kind == "download"
    reply = reply_within(session, job, WAIT)
    assert isinstance(reply, protocol.Error) and reply.code == "bad_request"
    assert session.state is session_mod.State.READY and session.job_id is None


def test_stopping_answers_every_waiting_request(session) -> None:
    request_id = session.request(protocol.ModelsRequest())
    session.stop()
    reply = session.take_reply(request_id)
    assert isinstance(reply, protocol.Error) and reply.code == "backend_unavailable"


def test_a_backend_that_dies_answers_waiting_requests(session) -> None:
    request_id = session.request(protocol.ModelsRequest())  # waits for the hello, seconds away
    session.process.kill()
    reply = reply_within(session, request_id, 30)
    assert isinstance(reply, protocol.Error) and reply.code == "backend_unavailable"
    assert reply.message == ("the backend on this computer was killed by SIGKILL (most often the system's "
                             "out-of-memory killer: memory ran out); what already arrived stays, and the next job "
                             "starts a new backend")
    again = session.request(protocol.ModelsRequest())  # a fresh backend answers the next one
    assert isinstance(reply_within(session, again, WAIT), protocol.Result)
