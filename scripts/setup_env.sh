#!/usr/bin/env bash
# Creates (or repairs) the repository's Python environments. Idempotent: an environment whose
# requirement files have not changed since it was last set up is left as it is.
#
#   bash scripts/setup_env.sh [main] [py313] [blender42]     (no argument: main)
#
#   main       .venv/            Python 3.11: the backend (numpy 1.26, CPU torch), Blender 5.0 as a
#                                module, the test runner. What the demo and most work use.
#   py313      .venv-py313/      Python 3.13: the backend on numpy 2 and Blender 5.2 LTS as a module.
#   blender42  .venv-blender42/  Python 3.11: Blender 4.2 LTS as a module (its backend is .venv), and MkDocs
#                                for the guide (kept out of the backend's environments: requirements-blender42.txt).
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
    # (the pyprojects' own dependencies are never installed from them: --no-deps).
    cat "$@" backend/requirements.txt | sha256sum | cut -c1-16
}

# Environments are built outside the repository, in $IMG23D_ENV_CACHE (default
# ~/.cache/img23d/envs), one folder per name and stamp, holding third-party packages only. Each
# clone's .venv* is a small environment of its own (an overlay: a venv made by the same
# interpreter, a few kB) whose site-packages has one .pth file: this clone's protocol/, client/ and
# backend/ first, then the cached environment's site-packages. So every command that runs a
# clone's .venv*/bin/python (the tests, the demo, bench/, a backend the Blender tests start, Ray
# workers, which start from sys.executable) imports that clone's own code, however many clones
# share the cache; deleting one clone touches no other. (An editable install in the shared
# environment pointed at whichever clone ran the setup last: issue 39.)
# A change to a requirement file builds a new cached environment beside the old, which is then
# removed. A .venv that is a real environment (not an overlay, made by an older version of this
# script) is used as it is while its stamp fits. IMG23D_ENV_REQUIRE_CACHED=1 refuses to build
# (the clone test sets it: it must never spend minutes or remove a shared environment).
ENV_CACHE="${IMG23D_ENV_CACHE:-$HOME/.cache/img23d/envs}"
CLONE="$(pwd -P)"

own_packages_path() {  # the folders this clone's own packages are imported from, one per line
    printf '%s\n' "$CLONE/protocol" "$CLONE/backend" "$CLONE/client"
}

drop_own_packages() {  # drop_own_packages <env>: no install of this project's packages in a shared env
    local folder="$1" project
    for project in img23d-backend img23d-protocol img23d-client; do
        if "$folder/bin/python" -c "import importlib.metadata as m, sys; m.distribution(sys.argv[1])" \
                "$project" >/dev/null 2>&1; then
            "$folder/bin/python" -m pip uninstall --quiet --yes "$project" >/dev/null
        fi
    done
}

build_env() {  # build_env <folder> <python> <requirements file> <backend packages: yes|no>
    local folder="$1" python="$2" requirements="$3" backend="$4"
    [ -x "$folder/bin/python" ] || "$python" -m venv "$folder"
    "$folder/bin/python" -m pip install --quiet --upgrade "pip>=24"
    "$folder/bin/python" -m pip install --quiet -r "$requirements"
    if [ "$backend" = yes ]; then
        "$folder/bin/python" -m pip install --quiet --no-deps hy3dgen==2.0.2
        PYTHONPATH="$(own_packages_path | paste -sd:)" \
            "$folder/bin/python" -c "import img23d_backend, img23d_protocol, hy3dgen, transformers, bpy"
    else
        "$folder/bin/python" -c "import bpy"
    fi
}

make_overlay() {  # make_overlay <folder> <cached environment>: the clone's own small environment over it
    local folder="$1" cached="$2" python site version line script
    python="$(sed -n 's/^home *= *//p' "$cached/pyvenv.cfg")/python3"
    version="$("$cached/bin/python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')"
    site="$folder/lib/$version/site-packages"
    # Up to date: made over this cached environment, for this clone where it is now.
    if [ "$(sed -n 's/^img23d-environment *= *//p' "$folder/pyvenv.cfg" 2>/dev/null)" = "$cached" ] \
            && [ "$(head -1 "$site/img23d_clone.pth" 2>/dev/null)" = "$CLONE/protocol" ]; then
        return 0
    fi
    rm -rf "$folder"
    "$python" -m venv --without-pip "$folder"
    echo "img23d-environment = $cached" >> "$folder/pyvenv.cfg"
    # A .pth line that starts with "import" runs: addsitedir also reads the cached environment's own
    # .pth files (which a plain path line would not).
    { own_packages_path
      echo "import site; site.addsitedir('$cached/lib/$version/site-packages')"; } > "$site/img23d_clone.pth"
    # The cached environment's commands (pytest, mkdocs, ray, ...) run with this overlay's Python.
    for script in "$cached"/bin/*; do
        [ -f "$script" ] && [ ! -L "$script" ] && [ ! -e "$folder/bin/${script##*/}" ] || continue
        IFS= read -r line < "$script" || true
        case "$line" in "#!$cached/bin/python"*) ;; *) continue ;; esac
        { echo "#!$CLONE/$folder/bin/python"; tail -n +2 "$script"; } > "$folder/bin/${script##*/}"
        chmod 755 "$folder/bin/${script##*/}"
    done
    cp "$cached/.img23d-stamp" "$folder/.img23d-stamp"
}

make_env() {  # make_env <folder> <python> <requirements file> <what, for the messages> [backend packages: yes|no]
    local folder="$1" python="$2" requirements="$3" what="$4" backend="${5:-yes}"
    local stamp cached
    stamp="$(stamp_of "$requirements")"
    if [ -d "$folder" ] && [ ! -L "$folder" ] && ! grep -q '^img23d-environment' "$folder/pyvenv.cfg" 2>/dev/null; then
        # An environment made in place (by an older version of this script) belongs to this clone
        # alone: the same .pth as an overlay's, in place of its editable installs.
        if [ "$(cat "$folder/.img23d-stamp" 2>/dev/null)" != "$stamp" ]; then
            build_env "$folder" "$python" "$requirements" "$backend"
            echo "$stamp" > "$folder/.img23d-stamp"
        fi
        drop_own_packages "$folder"
        own_packages_path > "$("$folder/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/img23d_clone.pth"
        echo "environment ready: $folder ($what)"
        return 0
    fi
    cached="$ENV_CACHE/${folder#.}-$stamp"
    if [ "$(cat "$cached/.img23d-stamp" 2>/dev/null)" != "$stamp" ]; then
        if [ "${IMG23D_ENV_REQUIRE_CACHED:-0}" = 1 ]; then
            echo "$folder: no cached environment $cached, and IMG23D_ENV_REQUIRE_CACHED=1 forbids building one" >&2
            return 1
        fi
        # Nothing half-built is ever used: the stamp is written last.
        rm -rf "$cached"
        mkdir -p "$ENV_CACHE"
        echo "building $folder ($what) in $cached"
        build_env "$cached" "$python" "$requirements" "$backend"
        echo "$stamp" > "$cached/.img23d-stamp"
        # Older builds of this environment: each is several GB.
        # Older builds of this environment only: a stamp is 16 hex digits, so a plain "venv-*" would
        # also take .venv-py313's and .venv-blender42's cached environments with it.
        for old in "$ENV_CACHE/${folder#.}-"*; do
            [[ "${old##*/}" =~ ^${folder#.}-[0-9a-f]{16}$ ]] && [ "$old" != "$cached" ] && rm -rf "$old"
        done
    fi
    # Made by an older version of this script: an editable install of whichever clone set it up last.
    drop_own_packages "$cached"
    [ -L "$folder" ] && rm "$folder"
    make_overlay "$folder" "$cached"
    echo "environment ready: $folder, over $cached ($what)"
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
