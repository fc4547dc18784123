"""The files each published model folder must hold: what a download fetches, what the cache's
completeness check asks for and what the loaders open. Kept with the registry, below the model
families' own code, so that the registry names them without importing the families. (The image
editors' and the material models' lists are in their rows: ``editors/<editor>/model.py``,
``materials/<model>/model.py``.)"""

from __future__ import annotations

# Step1X-3D's geometry folders (``Step1X-3D-Geometry-1300m``, ``...-Label-1300m``), as upstream's
# ``save_pretrained`` lays them out.
STEP1X_WEIGHTS = "diffusion_pytorch_model.safetensors"
STEP1X_PARTS = ("transformer", "vae", "visual_encoder")
# The files a geometry folder needs: what a download fetches and the loader opens.
STEP1X_FILES = ("model_index.json", "scheduler/scheduler_config.json",
                *(f"{part}/{name}" for part in STEP1X_PARTS for name in ("config.json", STEP1X_WEIGHTS)))
# The Label folder (``Step1X-3D-Geometry-Label-1300m``) has a label encoder besides.
STEP1X_LABEL_PART = "label_encoder"
STEP1X_LABEL_FILES = (*STEP1X_FILES, f"{STEP1X_LABEL_PART}/config.json", f"{STEP1X_LABEL_PART}/{STEP1X_WEIGHTS}")
