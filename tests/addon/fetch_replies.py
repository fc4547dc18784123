"""A host's replies as the add-on reads them: a message through the wire format, and a fetch's
chunks and result for a payload (the shared stand-in for the far side of a file transfer)."""

from __future__ import annotations

import io
from typing import Any


from img23d_client import remote_runs, transfer

protocol = transfer.protocol


def wire(message: Any, registry: dict | None = None) -> Any:
    """``message`` encoded and decoded again, as it arrives from the host."""
    return protocol.decode(message.to_line(), registry or protocol.EVENT_TYPES)


def fetch_answer(fetch_id: str, payload: bytes) -> list:
    """The host's answer to fetch ``fetch_id`` of ``payload``: its chunks of 8 KiB, then the result."""
    handle = io.BytesIO(payload)
    size, sha = protocol.file_digest(handle)
    chunks = [protocol.Chunk(id=fetch_id, offset=offset, data=protocol.encode_chunk(block),
                             size=size if offset == 0 else None, sha256=sha if offset == 0 else None)
              for offset, block in protocol.iter_chunks(handle, size, 8192)]
    return [wire(m) for m in [*chunks, protocol.Result(id=fetch_id, data={"size": size, "sha256": sha})]]


def played_job(job: Any, messages: tuple, payload: bytes) -> list:
    """``messages`` from the host played to a ``remote_jobs.RemoteJob``, every fetch it asks answered with
    ``payload``; what reached the caller, in order."""
    out: list = []
    for message in messages:
        send, arrived = job.handle(wire(message))
        out.extend(arrived)
        for request in send:
            for reply in fetch_answer(request.id, payload):
                more, arrived = job.handle(reply)
                assert not more
                out.extend(arrived)
    return out


def played_download(mirror: Any, run: str, files: dict[str, bytes], limits: Any = None) -> Any:
    """Import Run from Host of ``run`` (holding ``files``) through ``mirror``, played to its end
    against a host that lists the files and answers every fetch; returns the download."""
    download = remote_runs.RunDownload(mirror, run, "gpu-box", limits)
    [listing] = download.start()
    entries = [{"path": name, "size": len(data)} for name, data in files.items()]
    pending = list(download.handle(wire(protocol.Result(id=listing.id, data={"run": run, "files": entries}))))
    while pending:
        request = pending.pop(0)
        for message in fetch_answer(request.id, files[request.path[len(run) + 1:]]):
            pending.extend(download.handle(message))
    return download
