#!/usr/bin/env bash
# Creates (or repairs) the repository's Python environments. Idempotent: an environment whose
# requirement files have not changed since it was last set up is left as it is.
#
#   bash scripts/setup_env.sh [main] [py313] [blender42]     (no argument: main)
#
#   main       .venv/            Python 3.11: the backend (numpy 1.26, CPU torch), Blender 5.0 as a
#                                module, the test runner. What the demo and most work use.
#   py313      .venv-py313/      Python 3.13: the backend on numpy 2 and Blender 5.2 LTS as a module.
#   blender42  .venv-blender42/  Python 3.11: Blender 4.2 LTS as a module only (its backend is .venv).
#
# Interpreters: $PYTHON311 / $PYTHON313, else python3.11 / python3.13 on PATH, else pyenv's.
# Packages come from PyPI (pip's cache, outside the repository, makes a rebuild quick).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # find_python 3.13 -> a path to a working python3.13
    local version="$1" candidate root
    for candidate in "python$version" "$HOME/.pyenv/versions/$version"*/bin/"python$version"; do
        if "$candidate" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$version'.split('.')))" \
                >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root)"
        for candidate in "$root"/versions/"$version"*/bin/"python$version"; do
            [ -x "$candidate" ] && { echo "$candidate"; return 0; }
        done
    fi
    echo "Python $version was not found: install it (e.g. 'pyenv install $version') or set PYTHON${version/./}" >&2
    return 1
}

stamp_of() {  # a hash of what decides an environment's contents: the pinned requirements
    # (the pyprojects' own dependencies are never installed from them: --no-deps; the editable
    # installs of this clone's packages are checked by link_backend on every run).
    cat "$@" backend/requirements.txt | sha256sum | cut -c1-16
}

# Environments are built outside the repository, in $IMG23D_ENV_CACHE (default
# ~/.cache/img23d/envs), one folder per name and stamp, and the repository's .venv* are links
# to them: a fresh clone (CI's, every run) finds them built and only links them, and a change to
# a requirement file builds a new one beside the old, which is then removed. A .venv that is a
# real folder (made by an older version of this script) is used as it is while its stamp fits.
ENV_CACHE="${IMG23D_ENV_CACHE:-$HOME/.cache/img23d/envs}"

editable() {  # editable <folder> <project>...: pip install -e, without setuptools' banners
    local folder="$1" log status
    shift
    log="$(mktemp)"
    status=0
    "$folder/bin/python" -m pip install --quiet --no-deps --no-compile "${@/#/--editable=}" >"$log" 2>&1 || status=$?
    grep -v "BuildBackendWarning\|^ *\*\|^ *!!\|^ *$\|Please be careful\|name as your package\|with strategy" "$log" || true
    rm -f "$log"
    return "$status"
}

link_backend() {  # link_backend <folder>: the env imports img23d_backend and img23d_protocol from this clone
    local folder="$1" project want have
    for project in protocol backend; do
        # This clone's folder and version, against what the environment's editable install says.
        want="$(cd "$project" && pwd) $("$folder/bin/python" -c "import tomllib; print(tomllib.load(open('$project/pyproject.toml', 'rb'))['project']['version'])")"
        have="$("$folder/bin/python" - "$project" 2>/dev/null <<'PY' || true
import importlib.metadata, json, sys
from pathlib import Path
dist = importlib.metadata.distribution(f"img23d-{sys.argv[1]}")
url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
print(Path(url.removeprefix("file://")), dist.version)
PY
)"
        if [ "$have" != "$want" ]; then
            editable "$folder" "$project"
        fi
    done
}

build_env() {  # build_env <folder> <python> <requirements file> <editable backend: yes|no>
    local folder="$1" python="$2" requirements="$3" backend="$4"
    [ -x "$folder/bin/python" ] || "$python" -m venv "$folder"
    "$folder/bin/python" -m pip install --quiet --upgrade "pip>=24"
    "$folder/bin/python" -m pip install --quiet -r "$requirements"
    if [ "$backend" = yes ]; then
        "$folder/bin/python" -m pip install --quiet --no-deps hy3dgen==2.0.2
        editable "$folder" protocol backend
        "$folder/bin/python" -c "import img23d_backend, img23d_protocol, hy3dgen, transformers, bpy"
    else
        "$folder/bin/python" -c "import bpy"
    fi
}

make_env() {  # make_env <folder> <python> <requirements file> <what, for the messages> [editable backend: yes|no]
    local folder="$1" python="$2" requirements="$3" what="$4" backend="${5:-yes}"
    local stamp cached
    stamp="$(stamp_of "$requirements")"
    if [ -d "$folder" ] && [ ! -L "$folder" ]; then  # an environment made in place
        if [ "$(cat "$folder/.img23d-stamp" 2>/dev/null)" != "$stamp" ]; then
            build_env "$folder" "$python" "$requirements" "$backend"
            echo "$stamp" > "$folder/.img23d-stamp"
        fi
        [ "$backend" = yes ] && link_backend "$folder"
        echo "environment ready: $folder ($what)"
        return 0
    fi
    cached="$ENV_CACHE/${folder#.}-$stamp"
    if [ "$(cat "$cached/.img23d-stamp" 2>/dev/null)" != "$stamp" ]; then
        # Nothing half-built is ever used: the stamp is written last.
        rm -rf "$cached"
        mkdir -p "$ENV_CACHE"
        echo "building $folder ($what) in $cached"
        build_env "$cached" "$python" "$requirements" "$backend"
        echo "$stamp" > "$cached/.img23d-stamp"
        # Older builds of this environment: each is several GB.
        find "$ENV_CACHE" -maxdepth 1 -name "${folder#.}-*" ! -path "$cached" -exec rm -rf {} +
    fi
    ln -sfn "$cached" "$folder"
    [ "$backend" = yes ] && link_backend "$folder"
    echo "environment ready: $folder -> $cached ($what)"
}

[ "$#" -gt 0 ] || set -- main
for name in "$@"; do
    case "$name" in
        main)      make_env .venv "${PYTHON311:-$(find_python 3.11)}" requirements-dev.txt \
                            "Python 3.11, Blender 5.0, numpy 1.26" ;;
        py313)     make_env .venv-py313 "${PYTHON313:-$(find_python 3.13)}" requirements-py313.txt \
                            "Python 3.13, Blender 5.2 LTS, numpy 2" ;;
        blender42) make_env .venv-blender42 "${PYTHON311:-$(find_python 3.11)}" requirements-blender42.txt \
                            "Python 3.11, Blender 4.2 LTS" no ;;
        *) echo "unknown environment '$name': choose main, py313 or blender42" >&2; exit 2 ;;
    esac
done
