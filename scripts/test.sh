#!/usr/bin/env bash
# The test command: sets up .venv/, builds the tiny offline models (cached outside the
# repository, in ~/.cache/img23d), runs the whole suite, then runs the add-on's tests again
# in Blender 4.2 LTS (the oldest supported; the main run uses Blender 5.0) from .venv-blender42/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export HF_HUB_OFFLINE=1
IMG23D_TINY_MODELS="$(.venv/bin/python -m img23d_backend.tiny_models)"
export IMG23D_TINY_MODELS
.venv/bin/python -m pytest tests "$@"

if [ ! -x .venv-blender42/bin/python ]; then
    python3 -m venv .venv-blender42
fi
.venv-blender42/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv-blender42/bin/python -m pip install --quiet "bpy==4.2.23" "numpy<2" pytest==9.2.0 psutil==7.2.2
# bpy 4.2 crashes while the interpreter shuts down, after every test has run and reported;
# leave with pytest's own exit status before that teardown.
IMG23D_TEST_BACKEND_PYTHON="$PWD/.venv/bin/python" .venv-blender42/bin/python -c '
import os, sys
import pytest
code = pytest.main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.flush()
os._exit(int(code))
' tests/blender/test_addon.py "$@"
