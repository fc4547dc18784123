"""The result each job request is answered with, by the request's ``type`` (``JOB_RESULTS``): the results of
``results``, (1.25) Make Picture's (``picture``) and (1.28) Print's (``prints``)."""

from __future__ import annotations

from .picture import PictureJobResult
from .prints import PrintJobResult
from .results import (DetectJobResult, DownloadJobResult, GenerateJobResult, JobResult, PartsJobResult,
                      RegenerateJobResult, RetextureJobResult, RetopoJobResult, RigJobResult, SuggestJobResult)

JOB_RESULTS: dict[str, type[JobResult]] = {
    cls.KIND: cls for cls in (GenerateJobResult, DetectJobResult, SuggestJobResult, RetextureJobResult,
                              RetopoJobResult, PartsJobResult, RigJobResult, RegenerateJobResult, DownloadJobResult,
                              PictureJobResult, PrintJobResult)
}
