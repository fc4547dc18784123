#!/usr/bin/env bash
# The main job, headless, on the bundled example image: sets up .venv/, builds the tiny
# offline models, then runs Blender (the bpy module) with the add-on to generate one object
# per name from house_scene.png, and writes runs/main-job/scene.blend and preview.png.
# Extra arguments go to scripts/main_job.py (e.g. --models default for the real models).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step says what it does first, on stderr: the models' build and the job are silent for a minute or more.
echo "demo: setting up the backend's environment (.venv)" >&2
bash scripts/setup_env.sh
echo "demo: building the tiny offline models (a minute or so the first time, then reused)" >&2
.venv/bin/python -m img23d_backend.replicas >/dev/null
echo "demo: running the main job in Blender (scripts/main_job.py)" >&2
exec .venv/bin/python scripts/main_job.py "$@"
