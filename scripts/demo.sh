#!/usr/bin/env bash
# The main job, headless, on the bundled example image: sets up .venv/, builds the tiny
# offline models, then runs Blender (the bpy module) with the add-on to generate one object
# per name from house_scene.png, and writes runs/main-job/scene.blend and preview.png.
# Extra arguments go to scripts/main_job.py (e.g. --models default for the real models).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/python -m img23d_backend.replicas >/dev/null
exec .venv/bin/python scripts/main_job.py "$@"
