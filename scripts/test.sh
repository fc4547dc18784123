#!/usr/bin/env bash
# The test command (what CI runs through .ci/run). Sets up the three environments, builds the
# tiny offline models (cached outside the repository, in ~/.cache/img23d), then runs:
#
#   1. Python 3.11, numpy 1.26, Blender 5.0        every test (backend, add-on logic, Blender)
#   2. Python 3.13, numpy 2,    Blender 5.2 LTS    every test again: the backend on 3.13 and
#                                                  numpy 2, the add-on in 5.2 with that backend
#   3. Python 3.11,             Blender 4.2 LTS    the Blender tests, backend from .venv
#
# Arguments go to every pytest run (e.g. -q, -x, -k name). All three runs always happen; the
# script fails if any failed, and says which.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh main py313 blender42 || exit 1
export HF_HUB_OFFLINE=1
IMG23D_TINY_MODELS="$(.venv/bin/python -m img23d_backend.tiny_models)" || exit 1
export IMG23D_TINY_MODELS

failed=()
run() {  # run <label> <command...>
    local label="$1" started=$SECONDS
    shift
    echo
    echo "=== $label ==="
    if "$@"; then
        echo "=== $label: passed in $((SECONDS - started)) s ==="
    else
        echo "=== $label: FAILED in $((SECONDS - started)) s ==="
        failed+=("$label")
    fi
}

run "Python 3.11, numpy 1.26, Blender 5.0" .venv/bin/python -m pytest tests "$@"
run "Python 3.13, numpy 2, Blender 5.2 LTS" .venv-py313/bin/python -m pytest tests "$@"
# bpy 4.2 crashes while the interpreter shuts down, after every test has run and reported;
# leave with pytest's own exit status before that teardown.
run "Python 3.11, Blender 4.2 LTS (backend: .venv)" env IMG23D_TEST_BACKEND_PYTHON="$PWD/.venv/bin/python" \
    .venv-blender42/bin/python -c '
import os, sys
import pytest
code = pytest.main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.flush()
os._exit(int(code))
' tests/blender "$@"

echo
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all three runs passed"
