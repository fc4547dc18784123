"""The files each published model folder must hold: what a download fetches, what the cache's
completeness check asks for and what the loaders open. Kept with the registry, below the model
families' own code, so that the registry names them without importing the families."""

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

# Marigold-IID-Appearance v1.1's folder (``prs-eth/marigold-iid-appearance-v1-1``), as diffusers'
# ``save_pretrained`` lays it out, with the ``fp16`` variant of each weights file (what is fetched and
# read; ``material_model`` says where the list comes from).
MARIGOLD_VARIANT = "fp16"
MARIGOLD_TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
MARIGOLD_WEIGHTS = {"text_encoder": f"model.{MARIGOLD_VARIANT}.safetensors",
                    "unet": f"diffusion_pytorch_model.{MARIGOLD_VARIANT}.safetensors",
                    "vae": f"diffusion_pytorch_model.{MARIGOLD_VARIANT}.safetensors"}
MARIGOLD_FILES = ("model_index.json", "scheduler/scheduler_config.json",
                  *(f"{part}/{name}" for part, weights in MARIGOLD_WEIGHTS.items() for name in ("config.json", weights)),
                  *(f"tokenizer/{name}" for name in MARIGOLD_TOKENIZER_FILES))
