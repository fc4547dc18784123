"""One depth model as the rest of the backend reaches it: its row (``DepthRow``: facts, no code) and its code
(``DepthEstimator``), and what every one gives (``DepthMap``). Light: the catalog reads the rows on every start.

A depth model estimates, from the whole picture, how near each pixel is; the layout turns each target's
statistic of it into a distance (``driver``: the statistic, the map kept in the run folder, its preview). Each
model brings its row (``<model>/model.py``'s ``ROWS``, by choice name: its pinned spec, whose options name it, its
tiny replica's folder and size) and its code (``<model>/estimator.py``'s ``ESTIMATORS``: its loader, its
estimate and its random-weight replica).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..env.job_control import CancelToken
from ..env.room_table import check_named
from ..models.specs import ModelReplica, ModelSpec

if TYPE_CHECKING:  # the catalog reads the rows on every start, the command line's included: no numpy then
    import numpy as np


@dataclass
class DepthMap:
    """The model's output over the whole working image, one value per pixel.

    A relative model (``kind`` "disparity": Depth Anything V2) gives ``values`` only: inverse depth up to a scale
    and a shift. A metric model (``kind`` "metric": MoGe-2) gives a camera and a point map in metres as well, and
    its ``values`` are 1 / z of those points (a metric disparity: the statistics and the layout read it as they
    read a relative one), 0 where its ``mask`` says there is no surface (sky: infinitely far).
    """

    values: np.ndarray              # float32 [height, width]: larger is nearer
    kind: str = "disparity"         # "disparity": relative inverse depth; "metric": 1 / z in 1 / metres
    fov_degrees: float | None = None  # the model's estimate of the field of view across the longer side, if any
    focal_px: float | None = None   # the model's focal length in pixels of the picture (square pixels), if any
    # float32 [height, width, 3], metres, camera frame (x right, y down, z forward; principal point at the picture's
    # centre): what each pixel sees; NaN where ``mask`` is False. None for a relative model.
    points: np.ndarray | None = None
    mask: np.ndarray | None = None     # bool [height, width]: pixels with a surface the model trusts (None: all)
    normals: np.ndarray | None = None  # float32 [height, width, 3] unit normals, camera frame; 0 outside ``mask``


@dataclass(frozen=True)
class DepthRow:
    """One depth model's facts: what the catalog, the model listing and the replicas read."""

    name: str                 # its choice name (``--depth``, the protocol's ``DEPTH_MODELS``)
    spec: ModelSpec           # its pinned repository, files and size
    tiny_folder: str          # its tiny replica's folder below the tiny set's root
    tiny_bytes: int           # its tiny replica's size
    component: str = ""       # its full-size replica's component name ("": none)

    def __post_init__(self) -> None:
        check_named(self, "depth", "depth model")

    def tiny_spec(self, root: Path) -> ModelSpec:
        """Its tiny replica under ``root``: the real folder's files, each one named (the real files' pinned
        SHA-256s left out: the replica's are its own)."""
        options = {key: value for key, value in self.spec.options.items() if key != "sha256"}
        return self.spec.tiny_replica(Path(root) / self.tiny_folder, self.tiny_bytes, options)


@dataclass(frozen=True)
class DepthEstimator:
    """One depth model's code, as the driver calls it."""

    name: str
    loader: Callable[[ModelSpec], Any]                      # the manager's loader (``models.manager.Loader``)
    estimate: Callable[[Any, Any, CancelToken], DepthMap]   # (the loaded model, the picture, cancel) -> its map
    replica: ModelReplica
