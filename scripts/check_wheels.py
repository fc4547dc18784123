#!/usr/bin/env python3
"""Check that backend/requirements.txt installs from wheels alone on every supported target.

For each Python (3.10 to 3.13) and platform (Linux x86_64, Windows x86_64, macOS arm64) this runs

    pip download --only-binary=:all: --implementation cp --python-version X.Y
                 --platform TAG [--platform TAG ...] -r backend/requirements.txt -d TMP
    pip download (same target options) --no-deps hy3dgen==2.0.2 -d TMP

with dependencies, so the whole transitive closure (scipy, torch, ...) must have wheels too,
and prints one line per combination: ok, or the requirement pip could not satisfy. The exit
status is 1 when any combination fails. It downloads several GB (torch and its CUDA wheels on
Linux) into a temporary folder per combination, deleted afterwards; --quick adds --no-deps.

pip matches --platform tags exactly, so every tag such a machine accepts is passed:
manylinux_2_5 .. manylinux_2_<--glibc> (and the manylinux1/2010/2014 aliases) on Linux,
macosx_11_0 .. macosx_<--macos>_0 arm64/universal2 (and 10.x universal2) on macOS.

pip evaluates environment markers against the interpreter running it, not against the target
(`--python-version`, `--platform`): torch's `nvidia-*; platform_system == "Linux"` dependencies
would then be required on Windows and macOS. So pip runs here with its vendored
packaging.markers.default_environment() replaced by the target's marker values, which makes
every marker, in the requirement file and in all dependencies, be evaluated for the target. pip's
own configuration (config files, PIP_* variables) is ignored, so the public index alone is
checked; --keep-pip-config keeps it.

Usage: python scripts/check_wheels.py [--python 3.13] [--platform linux] [--glibc 28] [--macos 13] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PLATFORMS = ("linux", "windows", "macos")
EXTRA = "hy3dgen==2.0.2"  # installed with --no-deps by the installer
MARKER_ENV = {  # marker variables per platform, as that platform's Python reports them
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
              "platform_machine": "x86_64"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                "platform_machine": "AMD64"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
              "platform_machine": "arm64"},
}
# Runs pip with marker evaluation done for the target: argv[1] is the target's marker values.
PIP = ("import json, sys\n"
       "from pip._vendor.packaging import markers\n"
       "target, base = json.loads(sys.argv.pop(1)), markers.default_environment\n"
       "markers.default_environment = lambda: {**base(), **target}\n"
       "from pip._internal.cli.main import main\n"
       "sys.exit(main())\n")


def platform_tags(platform: str, glibc: int, macos: int) -> list[str]:
    """Every wheel platform tag a machine of that kind accepts, newest first."""
    if platform == "linux":
        tags = [f"manylinux_2_{minor}_x86_64" for minor in range(glibc, 4, -1)]
        return tags + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    if platform == "windows":
        return ["win_amd64"]
    tags = [f"macosx_{major}_0_{arch}" for major in range(macos, 10, -1) for arch in ("arm64", "universal2")]
    return tags + [f"macosx_10_{minor}_universal2" for minor in range(16, 3, -1)]


def failure(output: str) -> str:
    """The requirement pip could not satisfy, or pip's first error and the conflict it names."""
    found = re.findall(r"No matching distribution found for (\S+)", output)
    if found:
        return str(found[-1])
    lines = [line.strip() for line in output.splitlines()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:] or ["pip failed"]
    return "; ".join([errors[0], *(line for line in lines if " depends on " in line)])


def marker_values(python: str, platform: str) -> dict[str, str]:
    """The environment-marker values a CPython of that version reports on that platform."""
    return {**MARKER_ENV[platform], "python_version": python, "python_full_version": f"{python}.0",
            "implementation_name": "cpython", "implementation_version": f"{python}.0",
            "platform_python_implementation": "CPython", "platform_release": "", "platform_version": ""}


def check(python: str, platform: str, tags: list[str], requirements: Path, quick: bool,
          env: dict[str, str]) -> tuple[bool, str]:
    """Download the requirements (with deps unless quick) and the extra; (ok, detail)."""
    pip = [sys.executable, "-c", PIP, json.dumps(marker_values(python, platform)), "download"]
    target = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python,
              "--no-cache-dir", "--progress-bar", "off", "--disable-pip-version-check"]
    for tag in tags:
        target += ["--platform", tag]
    with tempfile.TemporaryDirectory(prefix="check_wheels_") as tmp:
        runs = [[*(["--no-deps"] if quick else []), "-r", str(requirements)], ["--no-deps", EXTRA]]
        for extra_args in runs:
            done = subprocess.run([*pip, *target, *extra_args, "-d", tmp], capture_output=True, text=True, env=env,
                                  check=False)
            if done.returncode != 0:
                return False, failure(done.stdout + done.stderr)
        files = list(Path(tmp).iterdir())
        size = sum(f.stat().st_size for f in files) / 2**20
        return True, f"ok ({len(files)} wheels, {size:.0f} MiB)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--python", action="append", choices=PYTHONS, help="target Python (repeatable)")
    parser.add_argument("--platform", action="append", choices=PLATFORMS, help="target platform (repeatable)")
    parser.add_argument("--glibc", type=int, default=28,  # torch's wheels are manylinux_2_28
                        help="newest glibc 2.N accepted on Linux (default 28)")
    parser.add_argument("--macos", type=int, default=13, help="newest macOS major accepted (default 13)")
    parser.add_argument("--requirements", type=Path, default=ROOT / "backend" / "requirements.txt")
    parser.add_argument("--quick", action="store_true", help="--no-deps: the pinned wheels only")
    parser.add_argument("--keep-pip-config", action="store_true", help="use pip's config and PIP_* variables")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if not args.keep_pip_config:
        env = {key: value for key, value in env.items() if not key.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
    failed = 0
    for python in args.python or PYTHONS:
        for platform in args.platform or PLATFORMS:
            tags = platform_tags(platform, args.glibc, args.macos)
            ok, detail = check(python, platform, tags, args.requirements.resolve(), args.quick, env)
            failed += not ok
            print(f"{python:5} {platform:8} {detail if ok else 'FAIL: ' + detail}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
