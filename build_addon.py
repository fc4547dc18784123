"""Build the installable extension zip: the add-on, the backend's source, the protocol's and client's wheels, the guide.

    python build_addon.py [--output-dir dist] [--without-blender]

Any Python 3.11 or later will do. Where Blender is found (a ``blender`` on PATH, else the ``bpy``
module's copy of its tool), Blender's own extension tool packs and validates (``blender --command
extension build/validate``); where none is, or with ``--without-blender``, ``addon_zip.py`` does
the same with the standard library (the same files, wheels and name). The add-on's bpy-free
packages (``client/``: ``img23d_client``, ``img23d_installer``) travel as a wheel, as the protocol
does: Blender installs both where the add-on imports them by name. The backend's source
travels inside the zip (``backend/``) so the add-on runs exactly the backend it was built with;
the installer reads its requirements from there. The guide travels too (``guide/``): the built
HTML site where MkDocs and its Material theme are importable (as in the development
environments), else the guide's Markdown pages; the add-on's Help buttons open it from disk.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # checked before the imports: tomllib, used below, came in 3.11
    raise SystemExit(f"build_addon.py needs Python 3.11 or later; this is {sys.version.split()[0]}")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import tomllib  # noqa: E402
from pathlib import Path  # noqa: E402

import addon_zip  # noqa: E402
from protocol import build_wheel  # noqa: E402

ROOT = Path(__file__).resolve().parent
ADDON = ROOT / "blender_img23d"
BACKEND = ROOT / "backend"
CLIENT = ROOT / "client"
WHEELS = ROOT / "wheels"
DOCS = ROOT / "docs"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*", "build", "dist")


def blender_extension_tool() -> list[str] | None:
    """``blender --command extension`` if Blender is on PATH, else the bpy module's copy of the
    same tool, else None (no Blender here: build with addon_zip)."""
    blender = shutil.which("blender")
    if blender:
        return [blender, "--factory-startup", "--command", "extension"]
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    tools = sorted(package.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    return [sys.executable, str(tools[-1])] if tools else None


def stage_guide(source: Path) -> str:
    """The guide into ``source/guide``: "html" (MkDocs' build, browsable from disk) where MkDocs
    and Material are importable, else "markdown" (docs/ as it is: pages and pictures)."""
    guide = source / "guide"
    if importlib.util.find_spec("mkdocs") and importlib.util.find_spec("material"):
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--config-file", str(ROOT / "mkdocs.yml"),
                        "--site-dir", str(guide)], check=True, env=env, cwd=ROOT)
        return "html"
    shutil.copytree(DOCS, guide, ignore=IGNORED)
    return "markdown"


def stage(staging: Path) -> Path:
    """Lay out the extension's source folder: the add-on, backend/, wheels/ and guide/."""
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
    stage_guide(source)
    return source


def build_wheels() -> list[Path]:
    """The protocol's and the client's wheels, built into wheels/ from the source. The client's
    version carries its sources' digest (client/pyproject.toml says why): an older one is removed."""
    protocol = build_wheel.build(WHEELS)
    current = build_wheel.wheel_name(CLIENT, content_version=True)
    for old in WHEELS.glob("img23d_client-*.whl"):
        if old.name != current:
            old.unlink()
    return [protocol, build_wheel.build(WHEELS, CLIENT, content_version=True)]


def check_manifest_wheels(manifest: dict, wheels: list[Path]) -> None:
    """The manifest must list exactly the wheels being built (their names carry the versions)."""
    listed = [Path(entry).name for entry in manifest.get("wheels", [])]
    names = [wheel.name for wheel in wheels]
    if listed != names:
        wanted = ", ".join(f'"./wheels/{name}"' for name in names)
        raise SystemExit(f"blender_manifest.toml lists wheels {listed}, but the wheels built are {names}: "
                         f"set wheels = [{wanted}]")


def pack(source: Path, output_dir: Path, tool: list[str] | None) -> Path:
    """The zip of a staged source folder, validated: by Blender's ``tool``, or by addon_zip when None."""
    if tool is None:
        built = addon_zip.build(source, output_dir)
        addon_zip.check_zip(built)
        return built
    target = output_dir / addon_zip.read_manifest(source).zip_name
    subprocess.run([*tool, "validate", str(source)], check=True)
    if target.exists():
        target.unlink()
    subprocess.run([*tool, "build", "--source-dir", str(source), "--output-filepath", str(target)], check=True)
    subprocess.run([*tool, "validate", str(target)], check=True)
    return target


def build(output_dir: Path, without_blender: bool = False) -> Path:
    """The extension zip in ``output_dir``: by Blender's tool where one is found (and
    ``without_blender`` is false), else by addon_zip with the standard library."""
    manifest = tomllib.loads((ADDON / "blender_manifest.toml").read_text(encoding="utf-8"))
    check_manifest_wheels(manifest, build_wheels())
    output_dir.mkdir(parents=True, exist_ok=True)
    tool = None if without_blender else blender_extension_tool()
    with tempfile.TemporaryDirectory(prefix="img23d-build-") as tmp:
        return pack(stage(Path(tmp)), output_dir, tool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--without-blender", action="store_true",
                        help="build with the standard library (addon_zip.py) even where Blender is found")
    args = parser.parse_args(argv)
    try:
        print(build(args.output_dir, without_blender=args.without_blender))
    except addon_zip.ManifestError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"build failed: {' '.join(exc.cmd[-3:])} exited with {exc.returncode} (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
