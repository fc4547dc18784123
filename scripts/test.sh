#!/usr/bin/env bash
# The test command: sets up .venv/, builds the tiny offline models (cached outside the
# repository, in ~/.cache/img23d), and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export HF_HUB_OFFLINE=1
.venv/bin/python -m img23d_backend.tiny_models
exec .venv/bin/python -m pytest tests "$@"
