"""Downloading one model on request (the model manager's Download button), file by file.

``hub.resolve_model_dir`` downloads implicitly, when a job needs a model. This module is
the explicit path: it lists the model's files on the hub, fetches those the cache does not
have yet (so a second Download resumes an interrupted one) one at a time with
``hf_hub_download`` into the normal cache, and checks for cancellation between files
(huggingface_hub has no way to stop a file half way; what was fetched is kept and resumed
next time). While a file downloads, progress is reported twice a second from the size of
its partial blob: multi-GB files take minutes, and a silent busy backend would look hung
to the add-on's watchdog. Each file that arrives is checked against the digest the hub's file list
publishes for it (an LFS file's SHA-256, a small file's git blob hash): one that differs is removed
and the download fails with ``download_failed`` naming it (``damage.refuse_arrival``). Offline,
nothing touches the network: a model already cached is reported as such, any other is
``model_missing``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import ErrorCode, ProtocolError

from . import hub, licence_gate
from .damage import refuse_arrival
from .registry import ModelSpec

log = logging.getLogger(__name__)

# (message, bytes done, bytes total)
Progress = Callable[[str, int, int], None]

POLL_SECONDS = 0.5


def download(spec: ModelSpec, *, offline: bool, progress: Progress, cancelled: Callable[[], bool],
             token: str | None = None, accepted_licences: Collection[str] = ()) -> Path:
    """Make ``spec`` complete in the cache and return its folder (as ``hub`` resolves it); a model
    read from further repositories (``spec.sources``) has each of them fetched the same way, first.

    A model whose licence (any part's) restricts territory or use is refused
    (``licence_not_accepted``, before anything is fetched) unless its licence key is in
    ``accepted_licences``."""
    if spec.local_path is not None:
        return hub.resolve_model_dir(spec)
    try:
        folder = hub.resolve_model_dir(spec, offline=True)
    except ProtocolError:
        folder = None
    if folder is not None:
        progress(f"{spec.display} is already downloaded", 1, 1)
        return folder
    if offline:
        raise ProtocolError(ErrorCode.MODEL_MISSING,
                            f"{spec.display} is not downloaded and offline mode is on: switch Offline off "
                            "(and allow online access in Blender) to download it")
    licence = licence_gate.needs_consent(spec, accepted_licences)
    if licence is not None:
        raise licence_gate.refusal(spec, licence)
    for part in (*spec.sources, spec):
        _download_part(part, progress, cancelled, token)
    return hub.resolve_model_dir(spec, offline=True)


def _download_part(spec: ModelSpec, progress: Progress, cancelled: Callable[[], bool], token: str | None) -> None:
    """One repository's files of a model, those the cache lacks, one at a time."""
    try:
        hub.resolve_model_dir(replace(spec, sources=()), offline=True)
        return  # this part is complete already
    except ProtocolError:
        pass
    listed, commit = _remote_files(spec, token)
    # Resuming: what an earlier, interrupted download finished stays; only the rest is fetched.
    snapshot = hub.repo_cache_folder(spec.repo_id) / "snapshots" / commit
    files = [remote for remote in listed if not (snapshot / remote.name).is_file() or _cut_off(snapshot, remote)]
    total = sum(remote.size for remote in listed)
    done = total - sum(remote.size for remote in files)
    _quiet_progress_bars()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="img23d-download") as pool:
        for number, remote in enumerate(files, start=1):
            if cancelled():
                raise ProtocolError(ErrorCode.CANCELLED, f"download of {spec.display} cancelled "
                                                         f"after {number - 1} of {len(files)} files")
            message = f"{spec.display}: file {number} of {len(files)}, {remote.name}"
            future = pool.submit(_fetch, spec, remote.name, commit, token)
            while not wait([future], timeout=POLL_SECONDS).done:
                note = " (stopping after this file)" if cancelled() else ""
                progress(message + note, done + min(hub.interrupted_bytes(spec.repo_id), remote.size), total)
            future.result()  # its error, if any, is this download's
            progress(f"{message}: checking it", done, total)
            refuse_arrival(spec, snapshot, remote.name, remote.digest)
            done += remote.size
            progress(message, done, total)
    if spec.revision is None:
        _remember_branch(spec.repo_id, "main", commit)
    progress(f"{spec.display} downloaded", total, total)


def _cut_off(snapshot: Path, remote: RemoteFile) -> bool:
    """Whether the cached ``remote`` is not the size the hub lists (cut off by a crash or a full disk): it is
    removed, snapshot entry and blob, to be fetched again. Kept, it was never fetched (it is "there"), and a
    model whose index was cut off stayed "partly downloaded" through every Download."""
    path = snapshot / remote.name
    if not remote.size or path.stat().st_size == remote.size:
        return False
    blob = Path(os.path.realpath(path))
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)
    return True


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    # What the hub publishes for the file: an LFS file's SHA-256, else its git blob hash; None when
    # the listing names neither.
    digest: tuple[str, str] | None


def _published(sibling: Any) -> tuple[str, str] | None:
    lfs = getattr(sibling, "lfs", None)
    sha256 = getattr(lfs, "sha256", None) if lfs is not None else None
    if sha256:
        return "sha256", str(sha256)
    blob_id = getattr(sibling, "blob_id", None)
    return ("git-sha1", str(blob_id)) if blob_id else None


def _remote_files(spec: ModelSpec, token: str | None) -> tuple[list[RemoteFile], str]:
    """The model's files on the hub, filtered as the registry says, and the commit."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import filter_repo_objects

    with _hub_errors(spec):
        info = HfApi(token=token or None).model_info(spec.repo_id, revision=spec.revision, files_metadata=True)
    siblings = list(info.siblings or [])
    patterns = list(spec.allow_patterns) or ([f"{spec.subfolder}/*"] if spec.subfolder else None)
    chosen = list(filter_repo_objects(siblings, allow_patterns=patterns, key=lambda s: s.rfilename))
    if not chosen:
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED, f"{spec.display}: the hub lists none of the expected files")
    return [RemoteFile(s.rfilename, int(s.size or 0), _published(s)) for s in chosen], str(info.sha)


def _fetch(spec: ModelSpec, filename: str, commit: str, token: str | None) -> None:
    from huggingface_hub import hf_hub_download

    with _hub_errors(spec):
        hf_hub_download(spec.repo_id, filename, revision=commit, token=token or None)


def _remember_branch(repo_id: str, branch: str, commit: str) -> None:
    """Record which commit ``branch`` pointed to, as snapshot_download does, so offline lookups
    of an unpinned model find this snapshot (the cache's documented ``refs/<branch>`` file)."""
    ref = hub.repo_cache_folder(repo_id) / "refs" / branch
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit)


def _quiet_progress_bars() -> None:
    # hf_hub_download draws a tqdm bar per file on stderr, which is the backend's log file.
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()


@contextmanager
def _hub_errors(spec: ModelSpec) -> Iterator[None]:
    """Turn huggingface_hub's exceptions into protocol errors a user can act on."""
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    try:
        yield
    except GatedRepoError as exc:  # before its base class, RepositoryNotFoundError
        raise hub.access_refused(spec, _first_line(exc)) from exc
    except RepositoryNotFoundError as exc:
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED,
                            f"{spec.repo_id} is gated or not found: accept its licence on the hub and set "
                            "a token in the add-on's preferences", _first_line(exc)) from exc
    except RevisionNotFoundError as exc:
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED,
                            f"{spec.display}: the pinned revision no longer exists on the hub",
                            _first_line(exc)) from exc
    except LocalEntryNotFoundError as exc:
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED,
                            f"could not download {spec.display}: the Hugging Face hub cannot be reached "
                            "(check the network or a proxy)", _first_line(exc)) from exc
    except OSError as exc:  # requests' errors are OSErrors; so is a full disk
        if hub.http_status(exc) in (401, 403):
            raise hub.access_refused(spec, _first_line(exc)) from exc
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED, f"downloading {spec.display} failed",
                            _first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    # HTTP exception texts can echo request headers (the token among them): type and first line only.
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]
