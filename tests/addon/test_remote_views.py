"""A job's views on a backend on another machine (issue 55): each view's picture goes up as the main
picture does, and the job is sent only once every file is there, naming the host's paths; a view
the host refuses ends the job in one sentence that names which view. Played against ``RemoteJob``
with the protocol's own messages, through the wire format."""

from __future__ import annotations

from pathlib import Path

from fetch_replies import wire

from img23d_client import remote_jobs
from img23d_client import transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"


def _pictures(tmp_path: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = tmp_path / name
        path.write_bytes(f"the picture {name}".encode())
        paths.append(path)
    return paths


def _answer_uploads(job: remote_jobs.RemoteJob, sent: list, refuse: str = "") -> tuple[list, list]:
    """The host's reply to each finished upload: its own path for the file (or an error for ``refuse``)."""
    finished = {m.id: m.name for m in sent if isinstance(m, protocol.UploadRequest) and m.done}
    requests, events = [], []
    for upload_id, name in finished.items():
        reply = (protocol.Error(id=upload_id, code="bad_request", message="the disk is full") if name == refuse
                 else protocol.Result(id=upload_id, data={"path": f"{REMOTE}/_uploads/{upload_id}/{name}"}))
        more, out = job.handle(wire(reply))
        requests.extend(more)
        events.extend(out)
    return requests, events


def test_a_generates_views_go_up_and_the_job_names_the_hosts_files(tmp_path: Path) -> None:
    picture, back, left = _pictures(tmp_path, "front.png", "chair back.png", "chair left.jpg")
    request = protocol.GenerateRequest(id="job-1", image=str(picture), targets=["chair", "lamp"],
                                       views={"chair": {"back": str(back), "left": str(left)}})
    job = remote_jobs.RemoteJob(request, transfer.Mirror(REMOTE, tmp_path / "mirror"), "gpu-box")
    sent = list(job.start())
    assert not any(isinstance(m, protocol.GenerateRequest) for m in sent)  # the files first
    assert {m.name for m in sent if isinstance(m, protocol.UploadRequest)} == {"front.png", "chair back.png",
                                                                                "chair left.jpg"}
    requests, events = _answer_uploads(job, sent)
    [job_request] = requests
    assert events == [] and isinstance(job_request, protocol.GenerateRequest)
    assert job_request.image.startswith(f"{REMOTE}/_uploads/") and job_request.image.endswith("/front.png")
    views = job_request.views["chair"]
    assert list(views) == ["back", "left"]
    assert views["back"].endswith("/chair back.png") and views["left"].endswith("/chair left.jpg")
    assert all(path.startswith(f"{REMOTE}/_uploads/") for path in views.values())
    protocol.validate_views(job_request.views)  # as the host's backend reads them


def test_a_retextures_views_go_up_too(tmp_path: Path) -> None:
    picture, mesh, right = _pictures(tmp_path, "front.png", "mesh.npz", "right.png")
    request = protocol.RetextureRequest(id="job-2", image=str(picture), mesh=str(mesh), views={"right": str(right)})
    job = remote_jobs.RemoteJob(request, transfer.Mirror(REMOTE, tmp_path / "mirror"), "gpu-box")
    [job_request], _ = _answer_uploads(job, job.start())
    assert job_request.views["right"].startswith(f"{REMOTE}/_uploads/") and job_request.views["right"].endswith(
        "/right.png")
    assert job_request.mesh.endswith("/mesh.npz")


def test_a_view_the_host_refuses_ends_the_job_in_one_sentence_naming_it(tmp_path: Path) -> None:
    picture, back = _pictures(tmp_path, "front.png", "back.png")
    request = protocol.GenerateRequest(id="job-3", image=str(picture), targets=["chair"],
                                       views={"chair": {"back": str(back)}})
    job = remote_jobs.RemoteJob(request, transfer.Mirror(REMOTE, tmp_path / "mirror"), "gpu-box")
    requests, events = _answer_uploads(job, job.start(), refuse="back.png")
    errors = [m.message for m in events if isinstance(m, protocol.Error)]
    assert errors == ["the back view of 'chair' could not be sent to gpu-box: the disk is full"]
    assert not any(isinstance(m, protocol.GenerateRequest) for m in requests)


def test_a_parts_jobs_picture_and_mask_go_up_and_the_job_names_the_hosts_files(tmp_path: Path) -> None:
    picture, mask = _pictures(tmp_path, "lamp.png", "lamp parts.png")
    request = protocol.PartsRequest(id="job-3", mode="model", image=str(picture), mask=str(mask), name="lamp")
    job = remote_jobs.RemoteJob(request, transfer.Mirror(REMOTE, tmp_path / "mirror"), "gpu-box")
    sent = list(job.start())
    assert {m.name for m in sent if isinstance(m, protocol.UploadRequest)} == {"lamp.png", "lamp parts.png"}
    requests, _ = _answer_uploads(job, sent)
    [job_request] = requests
    assert job_request.image.endswith("/lamp.png") and job_request.mask.endswith("/lamp parts.png")
    assert all(path.startswith(f"{REMOTE}/_uploads/") for path in (job_request.image, job_request.mask))


def test_uploads_are_read_one_chunk_at_a_time_as_they_are_sent(tmp_path: Path) -> None:
    """Three 8 MB views: the messages are made as they are taken, so what is held at once is a chunk or two,
    not every file (before, every upload was built before the first was sent: three times the files)."""
    import tracemalloc

    paths = []
    for name in ("front.png", "back.png", "left.png"):
        path = tmp_path / name
        path.write_bytes(bytes(range(256)) * (8 * 4096))   # 8 MiB each
        paths.append(path)
    request = protocol.GenerateRequest(id="job-4", image=str(paths[0]), targets=["chair"],
                                       views={"chair": {"back": str(paths[1]), "left": str(paths[2])}})
    job = remote_jobs.RemoteJob(request, transfer.Mirror(REMOTE, tmp_path / "mirror"), "gpu-box")
    tracemalloc.start()
    try:
        sent = 0
        for message in job.start():   # as the session sends them: each one dropped once it is written
            sent += len(message.data)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert sent > 3 * 8 * (1 << 20)   # every byte went (base64: a third more)
    assert peak < 4 * protocol.CHUNK_BYTES * 2, f"{peak:,} bytes held at once"
