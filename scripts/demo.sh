#!/usr/bin/env bash
# The main job, headless, on the bundled example image: sets up .venv/, builds the tiny
# offline models, and generates one mesh per name from house_scene.png.
# Pass --models default to use the real models (downloads ~8 GB from the Hugging Face hub).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
IMAGE="${IMAGE:-../shared/data/house_scene.png}"
MODELS="tiny"
EXTRA=(--steps 5 --octree-resolution 64)
if [ "${1:-}" = "--models" ] && [ "${2:-}" = "default" ]; then
    MODELS="default"; EXTRA=()
fi
.venv/bin/python -m img23d_backend generate "$IMAGE" --targets "house, chimney, barrel" \
    --models "$MODELS" --out runs "${EXTRA[@]}"
