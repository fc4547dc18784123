#!/usr/bin/env bash
# The test command (what CI runs through .ci/run). Sets up the three environments, builds the
# tiny offline models (both cached outside the repository, in ~/.cache/img23d), then runs:
#
#   A. Python 3.13, numpy 2,    Blender 5.2 LTS   every Blender test, the add-on's logic, the
#                                                 wire tests and the backend's process tests
#                                                 (the command line and the backend as processes);
#                                                 the real install on an SSH host runs here (only
#                                                 this lane's environment passes its probes)
#   B. Python 3.11, numpy 1.26                    the add-on's tests (tests/addon, but the two
#                                                 real installs), on Blender 4.2's and 5.0's
#                                                 Python, with those that drive real processes
#                                                 (marked process) run only here
#      Python 3.11, numpy 1.26, Blender 5.0       the Blender smoke subset (tests marked smoke:
#                                                 what differs between Blender versions); every
#                                                 Blender test with IMG23D_TEST_EVERY_BLENDER50=1
#      Python 3.11,             Blender 4.2 LTS   the Blender smoke subset and the real Install
#                                                 Backend, once, on the oldest Python; backend
#                                                 from .venv
#      Python 3.13, numpy 2                       lane B's share of the backend: its Ray batches
#                                                 (one cluster serves them all, last), the clean
#                                                 family's texture, the batch and fault processes
#   C. Python 3.13, numpy 2                       the rest of tests/backend: the backend's own
#                                                 tests run once, on the newest Python and numpy
#   and, first in lane A, the guide: mkdocs build --strict (docs/, mkdocs.yml).
#
# The three lanes run side by side on two cores and keep both busy (the command is bound by CPU: its
# time is the tests' processes' CPU over two, as tests/conftest.py's IMG23D_TEST_CPU_FILE shows).
# A prints as it goes; B's and C's output is printed when each ends. Arguments go to every pytest run (e.g. -q, -x, -k
# name; not -m, which would replace a lane's own selection below). Every run always happens; the script fails if
# any failed, and says which.
set -uo pipefail
cd "$(dirname "$0")/.."  # first: the globs below expand in the repository
# Three lanes share the two cores (A, B and C below). The shares are weighed from the durations of
# clean-clone runs (2026-11-26): the three lanes ended within a minute of each other (A 1,239 s, B 1,209,
# C 1,176; the two cores busy all along), before test_first_load and test_unwrap_hang went from A to C.
#
# The lanes take tests by folder and marker, never by file (pytest.ini says what each marker means;
# tests/conftest.py marks each test with its folder: addon, backend, blender, wire):
# - a backend test runs in the lane its lane_a, lane_b or lane_c marker names, if it has one (the lanes'
#   balance: a file's measured seconds moved between lanes; a test's own lane_a wins over its module's lane_b);
#   else a `process` test (the command line or the
#   backend as a process) in lane A, a `ray` or `clean_texture` one in lane B's share, the rest in lane C;
# - lane B's share runs after lane B's Blender runs, in one pytest run: the clean family's textured job is
#   made once per run (tests/backend/clean_cli_run.py) and one Ray cluster serves every Ray test, which
#   tests/conftest.py runs last (the cluster's idle daemons cost CPU from its start to the run's end);
# - the add-on's `process` tests (a backend here, ssh and sshd on 127.0.0.1) run once, on Python 3.11 (lane B:
#   the Python of Blender 4.2 and 5.0); their subject is the processes and the protocol, which do not differ
#   between 3.11 and 3.13, and Blender 5.2's own remote, fault and job tests run the same client on 3.13 in
#   lane A. The rest of tests/addon (fast: the logic) runs on both Pythons.
BACKEND_A="lane_a or (process and not (lane_b or lane_c))"
BACKEND_B="(lane_b and not lane_a) or ((ray or clean_texture) and not (lane_a or lane_c))"
LANE_A=(tests/blender tests/addon tests/wire tests/test_*.py tests/backend
        -m "not real_install and not (addon and process) and (not backend or $BACKEND_A)")
LANE_B_ADDON=(tests/addon -m "not real_install and not real_remote_install")
LANE_B_SHARE=(tests/backend -m "$BACKEND_B")
LANE_C=(tests/backend -m "not real_install and not ($BACKEND_A) and not ($BACKEND_B)")
# One thread per torch (and OpenMP) process: the lanes are the parallelism. On the tiny models two
# threads bought no time and cost about a fifth more CPU (test_paint_choice and test_retexture
# alone: 43.5 CPU-seconds in 32.8 s with two threads, 35.8 in 32.9 s with one), CPU the other
# lanes need. tests/conftest.py's backend_env sets the same for every backend a test starts.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
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
# The rig files' tests run the Khronos glTF validator (npm gltf-validator, pinned), installed here beside the
# environments when node and npm are there and it is missing (tests/backend/rig_glb_files.py says where; their tests in
# test_rig_gltf_skins.py and test_rig_command.py skip, saying so, without it).
VALIDATOR_DIR="$HOME/.cache/img23d/gltf-validator"
if [ ! -d "$VALIDATOR_DIR/node_modules/gltf-validator" ] && command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix "$VALIDATOR_DIR" gltf-validator@2.0.0-dev.3.10 >/dev/null 2>&1 \
        || echo "the glTF validator could not be installed: the validator tests will skip"
fi
echo "environments ready in $((SECONDS - started)) s"
# The bytecode of this clone's own modules, written once for each Python (about a second): where
# PYTHONDONTWRITEBYTECODE is set (this machine's environment sets it) no process writes it, and each
# of the ~400 Python processes the tests start (backends, command-line jobs, workers, Blender's
# backends) compiled img23d's modules from source again, 0.2 to 0.3 CPU-seconds each (measured).
for python in .venv/bin/python .venv-py313/bin/python; do
    "$python" -m compileall -q -j 0 protocol backend client blender_img23d tests >/dev/null || exit 1
done
# And pytest's own bytecode of the test modules (their asserts rewritten), which it writes only where bytecode may
# be written: without it each of the lanes' pytest runs rewrote and compiled every test module it collected again
# (collecting tests/backend: 15.2 CPU-seconds, 8.6 with pytest's cache; this CPU). From here every process the tests
# start may write its bytecode, as on an artist's machine (pytest writes its files whole, then renames them).
unset PYTHONDONTWRITEBYTECODE
export HF_HUB_OFFLINE=1
IMG23D_TINY_MODELS="$(.venv/bin/python -m img23d_backend.replicas)" || exit 1
export IMG23D_TINY_MODELS

work="$(mktemp -d "${TMPDIR:-/tmp}/img23d-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Every process's temporary files go in here and go with it: Blender makes a blender_XXXXXX folder at
# start-up that a bpy module leaves behind (the lanes' 4.2 leaves with os._exit), about 90 a day here
# before. Ray's and sshd's test folders stay in /tmp (ray_head, ssh_host): their sockets' paths are short.
mkdir "$work/tmp" || exit 1
export TMPDIR="$work/tmp"
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
    run "Python 3.11, numpy 1.26: the add-on's logic and processes" .venv/bin/python -m pytest "${LANE_B_ADDON[@]}" \
        --basetemp "$work/b-311" "$DURATIONS" "$@"
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
    run "Python 3.13, numpy 2: lane B's share of tests/backend ($BACKEND_B)" \
        .venv-py313/bin/python -m pytest "${LANE_B_SHARE[@]}" \
        --basetemp "$work/b-313" "$DURATIONS" "$@"
}

lane_c() {
    run "Python 3.13, numpy 2: the backend (tests/backend but lane A's and lane B's tests)" \
        .venv-py313/bin/python -m pytest "${LANE_C[@]}" --basetemp "$work/c" "$DURATIONS" "$@"
}

lane_b "$@" > "$work/lane-b.log" 2>&1 &
lane_b_pid=$!
lane_c "$@" > "$work/lane-c.log" 2>&1 &
lane_c_pid=$!
# The guide (docs/, mkdocs.yml): a broken link, a missing page or a page outside the nav fails it.
# Built into the temporary folder, never into the repository (a few seconds). Not --quiet: MkDocs
# counts the warnings that --strict turns into a failure only at the level it logs.
run "The guide: mkdocs build --strict" env NO_MKDOCS_2_WARNING=1 .venv-blender42/bin/mkdocs build --strict \
    --site-dir "$work/site"
run "Python 3.13, numpy 2, Blender 5.2 LTS: tests/blender, tests/addon, tests/wire, tests/*.py, tests/backend ($BACKEND_A)" \
    .venv-py313/bin/python -m pytest "${LANE_A[@]}" --basetemp "$work/a" "$DURATIONS" "$@"
wait "$lane_b_pid"
cat "$work/lane-b.log"
wait "$lane_c_pid"
cat "$work/lane-c.log"

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
