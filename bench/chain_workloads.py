"""What the chain runs: its workloads (the names each job asks for) and the model set it runs them on; read by
``bench/chain.py``, ``bench/chain_answers.py`` (the grounding answer each workload gets), ``bench/overlap.py`` and
``bench/text_object.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The tiny grounding replica's answer has three barrels, two trees, two rocks and one door:
# asking for every instance of those four names gives eight targets.
WORKLOADS = {1: (["house"], "largest"), 3: (["house", "chimney", "barrel"], "largest"),
             8: (["barrel", "tree", "rock", "door"], "all")}


def model_set(kind: str, models_dir: Path | None) -> Any:
    """The tiny replicas or the full-size ones under ``models_dir`` (also bench/text_object.py's)."""
    from img23d_backend.catalog import tiny_model_set
    from img23d_backend.replicas.build import ensure_tiny_models
    from img23d_backend.replicas.full import full_size_model_set

    if kind == "tiny":
        return tiny_model_set(ensure_tiny_models(models_dir))

    if models_dir is None:
        raise SystemExit("--models full-size-random needs --models-dir (built by bench/full_size_models.py)")
    return full_size_model_set(models_dir)
