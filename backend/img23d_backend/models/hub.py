"""Where a model's files are on disk: a local folder, or the Hugging Face cache after download.

Downloads go through ``huggingface_hub.snapshot_download`` into the normal cache
(``HF_HOME`` / ``HF_HUB_CACHE`` respected), limited to the files the model needs, with
progress reported through a callback; each file it fetched is checked against the digest the
hub sent for it (``damage.refuse_arrival``: huggingface_hub checks only sizes). The token comes from the environment or the
caller and is never logged or written anywhere by this module.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import ErrorCode, ProtocolError

from . import licence_gate
from .completeness import missing_files
from .damage import model_files, refuse_arrival
from .registry import ModelSpec

log = logging.getLogger(__name__)

# (message, files done, files total)
DownloadProgress = Callable[[str, int, int], None]


def offline_requested() -> bool:
    """True when the user has switched downloads off (``HF_HUB_OFFLINE`` or ``IMG23D_OFFLINE``)."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "IMG23D_OFFLINE"))


def resolve_model_dir(spec: ModelSpec, offline: bool | None = None,
                      progress: DownloadProgress | None = None, token: str | None = None,
                      accepted_licences: Collection[str] = ()) -> Path:
    """The folder that holds ``spec``'s files, downloading them first if needed and allowed.

    For hy3dgen models the returned folder is the repository root; the variant lives in
    ``spec.subfolder`` below it, as hy3dgen's own ``from_pretrained`` expects. A model whose
    licence restricts territory or use is downloaded only when its licence key is among
    ``accepted_licences`` (``licence_gate``); one already complete on disk is used as it is. A
    model read from further repositories (``spec.sources``) has each of them resolved (and
    downloaded) first; its loader finds them with ``source_dirs``.
    """
    for source in spec.sources:
        resolve_model_dir(source, offline, progress, token, accepted_licences)
    if spec.local_path is not None:
        folder = Path(spec.local_path)
        _check_complete(spec, folder)
        return folder
    offline = offline_requested() if offline is None else offline
    if not offline:
        refuse_unaccepted([spec], accepted_licences)
    before = None if offline else _blobs(spec.repo_id)
    folder = Path(_snapshot(spec, offline, progress, token))
    arrived = [] if before is None else [name for name in model_files(spec, folder)
                                         if Path(os.path.realpath(folder / name)).name not in before]
    if arrived and progress is not None:  # hashing takes seconds per GB: say what the wait is
        progress(f"checking the {len(arrived)} files of {spec.display} that arrived", 0, 1)
    for name in arrived:  # each against the digest the hub sent for it (its blob's name)
        refuse_arrival(spec, folder, name)
    _check_complete(spec, folder)
    return folder


def _blobs(repo_id: str) -> set[str]:
    """The blobs the cache holds for this repository now (by name)."""
    blobs = repo_cache_folder(repo_id) / "blobs"
    return {path.name for path in blobs.iterdir()} if blobs.is_dir() else set()


def source_dirs(spec: ModelSpec) -> list[Path]:
    """The folders of ``spec``'s further sources, in order, as they are on disk (never downloads:
    ``resolve_model_dir(spec)`` fetched them)."""
    return [resolve_model_dir(source, offline=True) for source in spec.sources]


def part_folders(spec: ModelSpec, folder: Path) -> list[tuple[ModelSpec, Path]]:
    """``spec`` in ``folder`` (as ``resolve_model_dir`` returned it) and each further source in its own
    folder, as they are on disk (a source that is not there is left out: it is reported as missing)."""
    parts = [(spec, Path(folder))]
    for source in spec.sources:
        try:
            parts.append((source, resolve_model_dir(source, offline=True)))
        except ProtocolError:
            continue
    return parts


def refuse_unaccepted(specs: list[ModelSpec], accepted_licences: Collection[str]) -> None:
    """Raise ``licence_not_accepted`` for the first of ``specs`` that would have to be downloaded
    under a restricted licence nobody accepted; a model complete on disk needs no consent."""
    for spec in specs:
        licence = licence_gate.needs_consent(spec, accepted_licences)
        if licence is None:
            continue
        try:
            resolve_model_dir(spec, offline=True)
        except ProtocolError:
            raise licence_gate.refusal(spec, licence) from None


def _snapshot(spec: ModelSpec, offline: bool, progress: DownloadProgress | None,
              token: str | None) -> str:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    kwargs: dict[str, Any] = dict(repo_id=spec.repo_id, revision=spec.revision,
                                  local_files_only=offline, token=token or None)
    if spec.allow_patterns:
        kwargs["allow_patterns"] = list(spec.allow_patterns)
    if progress is not None:
        kwargs["tqdm_class"] = _progress_bar_class(spec, progress)
    try:
        return snapshot_download(**kwargs)
    except LocalEntryNotFoundError as exc:
        if offline or _is_offline_mode_error(exc.__cause__):
            state = ("is only partly downloaded (a download was interrupted)" if interrupted_bytes(spec.repo_id)
                     else "is not downloaded")
            raise ProtocolError(
                ErrorCode.MODEL_MISSING,
                f"{spec.display} {state} and downloads are switched off; allow downloads "
                "once (unset offline mode) or copy the model into the Hugging Face cache",
            ) from exc
        raise ProtocolError(
            ErrorCode.DOWNLOAD_FAILED,
            f"could not download {spec.display}: the Hugging Face hub cannot be reached and the "
            "model is not in the local cache (check the network or a proxy)",
            _describe(exc.__cause__ or exc),
        ) from exc
    except GatedRepoError as exc:  # before its base class, RepositoryNotFoundError
        raise access_refused(spec, _describe(exc)) from exc
    except RepositoryNotFoundError as exc:
        raise ProtocolError(
            ErrorCode.DOWNLOAD_FAILED,
            f"{spec.repo_id} is gated or not found: accept its licence on the hub and set a token",
            _describe(exc),
        ) from exc
    except RevisionNotFoundError as exc:
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED,
                            f"{spec.display}: the pinned revision no longer exists on the hub",
                            _describe(exc)) from exc
    except OSError as exc:  # requests' errors are OSErrors; so are full disks mid-download
        if http_status(exc) in (401, 403):
            raise access_refused(spec, _describe(exc)) from exc
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED, f"downloading {spec.display} failed",
                            _describe(exc)) from exc


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a hub error that carries a response (huggingface_hub's HfHubHTTPError), else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def access_refused(spec: ModelSpec, detail: str) -> ProtocolError:
    """The one sentence for a gated repository the hub refused (HTTP 401/403, ``GatedRepoError``): how to
    ask for access on the model's page, and where the token goes once it is granted."""
    return ProtocolError(
        ErrorCode.DOWNLOAD_FAILED,
        f"{spec.repo_id} is gated and the hub refused access: request access on its page "
        f"(https://huggingface.co/{spec.repo_id}, \"Agree and access repository\"), then, once it is granted, "
        "set your Hugging Face token in the add-on's preferences (or HF_TOKEN) and download again", detail)


def _is_offline_mode_error(exc: BaseException | None) -> bool:
    from huggingface_hub.errors import OfflineModeIsEnabled
    return isinstance(exc, OfflineModeIsEnabled)


def _describe(exc: BaseException) -> str:
    # Exception texts from HTTP libraries can echo request headers; keep the type and first line.
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first_line}"[:300]


def _check_complete(spec: ModelSpec, folder: Path) -> None:
    """A cached snapshot may be partial (an interrupted download): say so, naming what is missing,
    before a loader trips over it. Complete means every file the loader opens (``completeness``)."""
    if not folder.is_dir():
        raise ProtocolError(ErrorCode.MODEL_MISSING, f"model folder {folder} for {spec.display} does not exist")
    missing = missing_files(spec, folder)
    if not missing:
        return
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    if spec.local_path is not None:
        raise ProtocolError(ErrorCode.MODEL_MISSING,
                            f"{spec.display} in {folder} is incomplete: {shown} missing; rebuild or replace the folder")
    interrupted = " (a download was interrupted)" if interrupted_bytes(spec.repo_id) else ""
    raise ProtocolError(ErrorCode.MODEL_MISSING,
                        f"{spec.display} is only partly downloaded{interrupted}: {shown} missing from {folder}; "
                        "Download it again in the add-on's model list (it fetches only what is missing)")


def repo_cache_folder(repo_id: str) -> Path:
    """``models--owner--name`` in the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``, read now)."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="model")


def interrupted_bytes(repo_id: str) -> int:
    """Bytes of files huggingface_hub had begun and not finished (``blobs/<hash>.incomplete``)
    for this repository: what an interrupted download left behind."""
    blobs = repo_cache_folder(repo_id) / "blobs"
    total = 0
    for part in blobs.glob("*.incomplete") if blobs.is_dir() else ():
        try:
            total += part.stat().st_size
        except OSError:
            continue  # finished and renamed while we looked
    return total


def _progress_bar_class(spec: ModelSpec, progress: DownloadProgress) -> type:
    """A tqdm stand-in that forwards huggingface_hub's file counter to ``progress``."""
    from tqdm.auto import tqdm

    class _Forwarding(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True  # nothing on the terminal: stdout is the protocol
            super().__init__(*args, **kwargs)
            self._done = 0
            progress(f"downloading {spec.display}", 0, int(self.total or 0))

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            progress(f"downloading {spec.display}", self._done, int(self.total or 0))
            return None

    return _Forwarding
