#!/usr/bin/env bash
# The test command (what CI runs through .ci/run). Sets up the three environments, builds the
# tiny offline models (both cached outside the repository, in ~/.cache/img23d), then runs:
#
#   A. Python 3.13, numpy 2,    Blender 5.2 LTS   every test: the backend's own tests (once, on
#                                                 the newest Python and numpy), the add-on's logic,
#                                                 the Blender tests with that backend; but for
#                                                 the local real install and lane B's share
#                                                 ($LANE_B_SHARE), run in lane B
#                                                 (the real install on an SSH host runs here: only
#                                                 this lane's environment passes its probes)
#   B. Python 3.11, numpy 1.26                    the add-on's logic (tests/addon, but the two
#                                                 real installs), on Blender 4.2's and 5.0's Python
#      Python 3.11, numpy 1.26, Blender 5.0       the Blender smoke subset (tests marked smoke:
#                                                 what differs between Blender versions); every
#                                                 Blender test with IMG23D_TEST_EVERY_BLENDER50=1
#      Python 3.11,             Blender 4.2 LTS   the Blender smoke subset (tests marked smoke:
#                                                 what differs between Blender versions) and the
#                                                 real Install Backend, once, on the oldest Python;
#                                                 backend from .venv
#      Python 3.13, numpy 2                       the backend's batch, fault, clean-texture and
#                                                 slowest command-line tests, the add-on's remote
#                                                 jobs (lane A's share: $LANE_B_SHARE evens out
#                                                 the two lanes; one Ray cluster serves every
#                                                 batch test there)
#   and, first in lane A, the guide: mkdocs build --strict (docs/, mkdocs.yml).
#
# A and B run side by side: the Blender tests spend much of their time waiting for a backend
# process, so two lanes finish well before one would on two cores. A prints as it goes; B's
# output is printed when it ends. Arguments go to every pytest run (e.g. -q, -x, -k name). Every
# run always happens; the script fails if any failed, and says which.
set -uo pipefail
cd "$(dirname "$0")/.."  # first: the globs below expand in the repository
# Backend tests that run in lane B, in lane A's environment: about fourteen minutes, which lane A
# (every test on 3.13) would otherwise spend on top of lane B's Blender runs (in a clean-clone run
# with the batch and fault tests alone in this share, lane A took 1,261 s and lane B 831 s). Since
# Blender 5.0 runs the smoke subset (below), the share also takes the slowest command-line jobs
# and the add-on's remote-job tests (about four minutes more, from the slowest-test lists). The
# environment-probe tests (about a minute: seven backend and probe processes) followed when lane B's
# fault tests came to share their backends (2026-11-26), so the two lanes end together again.
# test_clean_job_modules and test_step1x_texture_jobs read one textured clean job, made once per
# pytest run (tests/backend/clean_cli_run.py): they run in the same one.
LANE_B_SHARE=(tests/backend/test_faults.py tests/backend/test_batch.py tests/backend/test_batch_ray.py
              tests/backend/test_batch_ray_faults.py tests/backend/test_step1x_texture_*.py
              tests/backend/test_clean_job_modules.py
              tests/backend/test_backend_children.py tests/backend/test_damaged_models.py
              tests/backend/test_suggest.py tests/backend/test_cli_seed.py tests/backend/test_shape_steps.py
              tests/backend/test_variations.py tests/backend/test_paint_nan.py tests/backend/test_target_timings.py
              tests/backend/test_headless.py tests/backend/test_pinned_memory.py tests/backend/test_env_probe.py
              tests/addon/test_backend_endings.py tests/addon/test_remote_link_lost.py
              tests/addon/test_remote_faults.py tests/addon/test_main_job.py tests/addon/test_remote_jobs.py)
# Every pytest run lists its slowest tests, so CI's log shows where the minutes go.
DURATIONS=--durations=25
started=$SECONDS
bash scripts/setup_env.sh main py313 blender42 || exit 1
# The remote-backend tests start a real sshd on 127.0.0.1 (tests/ssh_host.py): Debian's
# openssh-server, installed here when missing (as root; elsewhere those tests say why they skip).
if [ ! -x /usr/sbin/sshd ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        openssh-server; } >/dev/null 2>&1 || echo "openssh-server could not be installed: the SSH tests will skip"
fi
echo "environments ready in $((SECONDS - started)) s"
export HF_HUB_OFFLINE=1
IMG23D_TINY_MODELS="$(.venv/bin/python -m img23d_backend.replicas)" || exit 1
export IMG23D_TINY_MODELS

work="$(mktemp -d "${TMPDIR:-/tmp}/img23d-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Each test skipped for want of ../shared/data (real reference data, on the team's machines only)
# writes a line here (tests/conftest.py); the count is said at the end.
export IMG23D_SHARED_SKIPS_FILE="$work/shared-skips"
: > "$IMG23D_SHARED_SKIPS_FILE"

run() {  # run <label> <command...>: prints the outcome; a failure leaves its label in $work/failed
    local label="$1" began=$SECONDS
    shift
    echo
    echo "=== $label ==="
    if "$@"; then
        echo "=== $label: passed in $((SECONDS - began)) s ==="
    else
        echo "=== $label: FAILED in $((SECONDS - began)) s ==="
        echo "$label" >> "$work/failed"
    fi
}

# Each lane has its own pytest temporary folder: pytest's clean-up of old numbered folders must
# not reach into a lane that is still running.
lane_b() {
    # The real Install Backend runs once, from 4.2's Python 3.11 below: its minutes are the same
    # installer's on every Blender.
    run "Python 3.11, numpy 1.26: the add-on's logic" .venv/bin/python -m pytest tests/addon \
        -m "not real_install and not real_remote_install" --basetemp "$work/b-311" "$DURATIONS" "$@"
    # Blender 5.0 runs the smoke subset, as 4.2 does: every Blender test runs on 5.2 in lane A,
    # and the rest of them (faults, remote jobs, the scene's edge cases) are the add-on's and the
    # backend's logic more than Blender's; IMG23D_TEST_EVERY_BLENDER50=1 runs them all here too
    # (about six minutes more).
    local blender50="smoke and not real_install and not real_remote_install"
    [ "${IMG23D_TEST_EVERY_BLENDER50:-}" = 1 ] && blender50="not real_install and not real_remote_install"
    run "Python 3.11, numpy 1.26, Blender 5.0 ($blender50)" .venv/bin/python -m pytest tests/blender \
        -m "$blender50" --basetemp "$work/b-50" "$DURATIONS" "$@"
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
' tests/blender -m "smoke or real_install" --basetemp "$work/b-42" "$DURATIONS" "$@"
    run "Python 3.13, numpy 2: ${LANE_B_SHARE[*]}" .venv-py313/bin/python -m pytest "${LANE_B_SHARE[@]}" \
        --basetemp "$work/b-313" "$DURATIONS" "$@"
}

lane_b "$@" > "$work/lane-b.log" 2>&1 &
lane_b_pid=$!
# The guide (docs/, mkdocs.yml): a broken link, a missing page or a page outside the nav fails it.
# Built into the temporary folder, never into the repository (a few seconds). Not --quiet: MkDocs
# counts the warnings that --strict turns into a failure only at the level it logs.
run "The guide: mkdocs build --strict" env NO_MKDOCS_2_WARNING=1 .venv-py313/bin/mkdocs build --strict \
    --site-dir "$work/site"
ignored=()
for share in "${LANE_B_SHARE[@]}"; do ignored+=(--ignore "$share"); done
run "Python 3.13, numpy 2, Blender 5.2 LTS" .venv-py313/bin/python -m pytest tests "${ignored[@]}" \
    -m "not real_install" --basetemp "$work/a" "$DURATIONS" "$@"
wait "$lane_b_pid"
cat "$work/lane-b.log"

echo
echo "all runs ended in $((SECONDS - started)) s"
skipped=$(wc -l < "$IMG23D_SHARED_SKIPS_FILE")
if [ "$skipped" -gt 0 ]; then
    echo "$skipped tests skipped: they need the team's reference data in ../shared/data (the real Hunyuan3D-2 mesh), not here"
else
    echo "no test skipped for want of ../shared/data"
fi
if [ -s "$work/failed" ]; then
    sed 's/^/FAILED: /' "$work/failed"
    exit 1
fi
echo "every run passed"
