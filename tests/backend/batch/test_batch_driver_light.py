"""The batch driver holds no model library: it reads, hashes, dispatches and records, and only its workers
import torch and the models' libraries. Before, the driver imported the whole engine for two small helpers and
the models' settings: about 3.5 CPU-seconds and 600 MB before its first worker started (45 MB and half a
second now, on this project's CPU), on every batch and on a Ray cluster's driver machine, which needs no GPU.
The Ray Ctrl-C test (test_batch_ray.py) checks the running driver process itself."""

from __future__ import annotations

import json
import subprocess
import sys

# What a model pulls in: each would cost the driver seconds and hundreds of megabytes.
MODEL_LIBRARIES = ("torch", "torchvision", "scipy", "trimesh", "diffusers", "transformers", "hy3dgen")
# Every module the batch command's driver runs, and the worker's (the pools import it to start one).
DRIVER_MODULES = ("img23d_backend.commands.cli", "img23d_backend.commands.batch", "img23d_backend.batch.driver",
                  "img23d_backend.batch.progress", "img23d_backend.batch.local", "img23d_backend.batch.ray_pool")
_LOADED = """
import importlib, json, sys
for name in sys.argv[2:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in json.loads(sys.argv[1]) + ["img23d_backend.batch.work", "img23d_backend.jobs"]
                        if m in sys.modules)))
"""


def test_the_batch_driver_imports_no_model_library_and_no_engine(backend_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", _LOADED, json.dumps(MODEL_LIBRARIES), *DRIVER_MODULES],
                          env=backend_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], "the batch driver imports what only its workers need"
