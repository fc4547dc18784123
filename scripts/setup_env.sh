#!/usr/bin/env bash
# Creates (or repairs) .venv/ at the repository root with everything the backend, the
# add-on tests and the benchmarks need. Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet -r requirements-dev.txt
.venv/bin/python -m pip install --quiet --no-deps hy3dgen==2.0.2
.venv/bin/python -m pip install --quiet --no-deps -e backend
.venv/bin/python -c "import img23d_backend, hy3dgen, transformers, bpy; print('environment ready: .venv')"
