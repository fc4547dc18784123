"""Download: one configured model into the Hugging Face cache, as a job (progress, cancel between files),
answered with the refreshed model list; and that list, which the ``models`` and ``delete`` answers also carry."""

from __future__ import annotations

from typing import Any

from img23d_protocol import DownloadJobResult, DownloadRequest, Progress

from ...models.cache import find_spec, hub_cache_dir, list_models, model_id
from ...models.download import download
from ..context import EngineContext, Job


def model_list(engine: EngineContext) -> dict[str, Any]:
    """The configured models (size, and whether on disk), whether the backend is offline, and its cache."""
    return {"models": [entry.to_dict() for entry in list_models(engine.settings.models)],
            "offline": engine.offline(), "cache_dir": str(hub_cache_dir())}


def run_download(engine: EngineContext, request: DownloadRequest, job: Job) -> DownloadJobResult:
    spec = find_spec(engine.settings.models, request.model)

    def progress(message: str, done: int, total: int) -> None:
        job.emit(Progress(job=job.id, stage="download", step=done, total=total, message=message))

    folder = download(spec, offline=engine.offline(), progress=progress, cancelled=lambda: job.cancel.cancelled,
                      accepted_licences=engine.settings.accepted_licences | set(request.accepted_licences))
    return DownloadJobResult(model=model_id(spec), path=str(folder), models=tuple(list_models(engine.settings.models)),
                             offline=engine.offline(), cache_dir=str(hub_cache_dir()))
