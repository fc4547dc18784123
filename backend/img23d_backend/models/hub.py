"""Where a model's files are on disk: a local folder, or the Hugging Face cache after download.

Downloads go through ``huggingface_hub.snapshot_download`` into the normal cache
(``HF_HOME`` / ``HF_HUB_CACHE`` respected), limited to the files the model needs, with
progress reported through a callback. The token comes from the environment or the
caller and is never logged or written anywhere by this module.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

from ..protocol import ErrorCode, ProtocolError
from .registry import PAINT_ROLES, ModelSpec

log = logging.getLogger(__name__)

# (message, files done, files total)
DownloadProgress = Callable[[str, int, int], None]


def offline_requested() -> bool:
    """True when the user has switched downloads off (``HF_HUB_OFFLINE`` or ``IMG23D_OFFLINE``)."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "IMG23D_OFFLINE"))


def resolve_model_dir(spec: ModelSpec, offline: bool | None = None,
                      progress: DownloadProgress | None = None, token: str | None = None) -> Path:
    """The folder that holds ``spec``'s files, downloading them first if needed and allowed.

    For hy3dgen models the returned folder is the repository root; the variant lives in
    ``spec.subfolder`` below it, as hy3dgen's own ``from_pretrained`` expects.
    """
    if spec.local_path is not None:
        folder = Path(spec.local_path)
        _check_complete(spec, folder)
        return folder
    offline = offline_requested() if offline is None else offline
    folder = Path(_snapshot(spec, offline, progress, token))
    _check_complete(spec, folder)
    return folder


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
            raise ProtocolError(
                ErrorCode.MODEL_MISSING,
                f"{spec.display} is not downloaded and downloads are switched off; allow downloads "
                "once (unset offline mode) or copy the model into the Hugging Face cache",
            ) from exc
        raise ProtocolError(
            ErrorCode.DOWNLOAD_FAILED,
            f"could not download {spec.display}: the Hugging Face hub cannot be reached and the "
            "model is not in the local cache (check the network or a proxy)",
            _describe(exc.__cause__ or exc),
        ) from exc
    except (GatedRepoError, RepositoryNotFoundError) as exc:
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
        raise ProtocolError(ErrorCode.DOWNLOAD_FAILED, f"downloading {spec.display} failed",
                            _describe(exc)) from exc


def _is_offline_mode_error(exc: BaseException | None) -> bool:
    from huggingface_hub.errors import OfflineModeIsEnabled
    return isinstance(exc, OfflineModeIsEnabled)


def _describe(exc: BaseException) -> str:
    # Exception texts from HTTP libraries can echo request headers; keep the type and first line.
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first_line}"[:300]


def _check_complete(spec: ModelSpec, folder: Path) -> None:
    """A cached snapshot may be partial (an interrupted download): say so before loading."""
    if not folder.is_dir():
        raise ProtocolError(ErrorCode.MODEL_MISSING, f"model folder {folder} for {spec.display} does not exist")
    missing = [str(p) for p in _completion_markers(spec) if not (folder / p).is_file()]
    if missing:
        raise ProtocolError(ErrorCode.MODEL_MISSING,
                            f"{spec.display} in {folder} is incomplete: {', '.join(missing)} missing; "
                            "download it again")


# The paint UNet's weights have a fixed name (hy3dgen reads that file directly); the other
# components are checked by their configs, whatever format their weights come in.
_PAINT_MARKERS = ("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.bin",
                  "vae/config.json", "scheduler/scheduler_config.json")
_DELIGHT_MARKERS = ("model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                    "scheduler/scheduler_config.json")


def _completion_markers(spec: ModelSpec) -> list[Path]:
    """Files whose absence means the download is incomplete, by folder layout.

    hy3dgen shape models keep ``config.yaml`` in their subfolder; the texture models are
    diffusers folders (``model_index.json``) below the repository root; the rest are plain
    transformers folders with ``config.json``.
    """
    if spec.role in PAINT_ROLES:
        root = Path(spec.subfolder or "")
        parts = _PAINT_MARKERS if spec.role == "paint" else _DELIGHT_MARKERS
        return [root / part for part in parts]
    if spec.subfolder:
        return [Path(spec.subfolder) / "config.yaml"]
    return [Path("config.json")]


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
