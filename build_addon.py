"""Build the installable extension zip: the add-on, the backend's source, the protocol's wheel.

    python build_addon.py [--output-dir dist]

Blender's own extension tool does the packing and the validation (the same code as
``blender --command extension build/validate``); without a Blender binary it is run from
the ``bpy`` module's copy. The backend's source travels inside the zip (``backend/``) so the
add-on runs exactly the backend it was built with; the installer reads its requirements
from there.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from protocol import build_wheel

ROOT = Path(__file__).resolve().parent
ADDON = ROOT / "blender_img23d"
BACKEND = ROOT / "backend"
WHEELS = ROOT / "wheels"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*", "build", "dist")


def blender_extension_tool() -> list[str]:
    """``blender --command extension`` if Blender is on PATH, else the bpy module's copy."""
    blender = shutil.which("blender")
    if blender:
        return [blender, "--factory-startup", "--command", "extension"]
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise SystemExit("neither a Blender binary nor the bpy module is available to build the extension")
    package = Path(spec.origin).parent
    tools = sorted(package.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not tools:
        raise SystemExit(f"Blender's extension tool was not found under {package}")
    return [sys.executable, str(tools[-1])]


def stage(staging: Path) -> Path:
    """Lay out the extension's source folder: the add-on, backend/ and wheels/."""
    source = staging / "img23d"
    shutil.copytree(ADDON, source, ignore=IGNORED)
    backend = source / "backend"
    backend.mkdir()
    shutil.copytree(BACKEND / "img23d_backend", backend / "img23d_backend", ignore=IGNORED)
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy2(BACKEND / name, backend / name)
    wheels = sorted(WHEELS.glob("*.whl")) if WHEELS.is_dir() else []
    if wheels:
        (source / "wheels").mkdir()
        for wheel in wheels:
            shutil.copy2(wheel, source / "wheels" / wheel.name)
    return source


def check_manifest_wheels(manifest: dict, wheel: Path) -> None:
    """The manifest must list exactly the wheel being built (its name carries the version)."""
    listed = [Path(entry).name for entry in manifest.get("wheels", [])]
    if listed != [wheel.name]:
        raise SystemExit(f"blender_manifest.toml lists wheels {listed}, but the protocol's wheel is {wheel.name}: "
                         f'set wheels = ["./wheels/{wheel.name}"]')


def build(output_dir: Path) -> Path:
    manifest = tomllib.loads((ADDON / "blender_manifest.toml").read_text(encoding="utf-8"))
    check_manifest_wheels(manifest, build_wheel.build(WHEELS))
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{manifest['id']}-{manifest['version']}.zip"
    tool = blender_extension_tool()
    with tempfile.TemporaryDirectory(prefix="img23d-build-") as tmp:
        source = stage(Path(tmp))
        subprocess.run([*tool, "validate", str(source)], check=True)
        if target.exists():
            target.unlink()
        subprocess.run([*tool, "build", "--source-dir", str(source), "--output-filepath", str(target)],
                       check=True)
    subprocess.run([*tool, "validate", str(target)], check=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    try:
        print(build(args.output_dir))
    except subprocess.CalledProcessError as exc:
        print(f"build failed: {' '.join(exc.cmd[-3:])} exited with {exc.returncode} (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
