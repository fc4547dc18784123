"""The extension zip with the standard library alone, for a machine with no Blender and no bpy.

``build_addon.py`` uses Blender's own tool (``blender --command extension build``) where one is
found, and this otherwise. It writes what Blender's tool writes for this add-on (checked by
tests/wire/test_build_plain.py): the manifest, then the wheels the manifest lists, then every other
file of the source folder but those ``[build] paths_exclude_pattern`` excludes (and dot-files),
paths relative to the folder, deflated at level 9 but wheels and archives stored, named
``<id>-<version>.zip``. ``validate`` checks what Blender's validation would refuse that this
add-on could get wrong: the manifest's required fields and their form, the listed wheels, the
package's ``__init__.py``.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "blender_manifest.toml"
REQUIRED = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type", "blender_version_min",
            "license")
# Blender's tool stores these without compressing them again (``filepath_skip_compress``).
STORED_SUFFIXES = (".whl", ".bz2", ".gz", ".lz4", ".lzma", ".rar", ".xz", ".zip", ".zst", ".7z")
TAGLINE_MAX = 64


class ManifestError(ValueError):
    """The manifest or the source folder would not make an installable extension (one sentence)."""


@dataclass(frozen=True)
class Manifest:
    """The fields of ``blender_manifest.toml`` the build needs."""

    id: str
    version: str
    kind: str
    wheels: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    @property
    def zip_name(self) -> str:
        return f"{self.id}-{self.version}.zip"


def read_manifest(source: Path) -> Manifest:
    """The manifest in ``source``, checked as ``validate`` checks it."""
    path = source / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{source} has no {MANIFEST}: it is not an extension's source folder")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path} is not valid TOML: {exc}") from exc
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ManifestError(f"{path} lacks {', '.join(missing)}")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", data["id"]):
        raise ManifestError(f"{path}: id {data['id']!r} must be letters, digits and underscores, starting with a letter")
    if not re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?", data["version"]):
        raise ManifestError(f"{path}: version {data['version']!r} is not a semantic version (like 1.2.3)")
    tagline = data["tagline"]
    if len(tagline) > TAGLINE_MAX or tagline.endswith((".", "!", "?")):
        raise ManifestError(f"{path}: the tagline must be at most {TAGLINE_MAX} characters, without a full stop")
    exclude = data.get("build", {}).get("paths_exclude_pattern", [])
    return Manifest(id=data["id"], version=data["version"], kind=data["type"], wheels=list(data.get("wheels", [])),
                    exclude=list(exclude))


def excluded(relative: str, is_dir: bool, patterns: list[str]) -> bool:
    """Whether a path (relative, with ``/``) matches one of gitignore-style ``patterns``, as
    Blender's ``PathPatternMatch`` reads the simple ones: ``name/`` a folder anywhere, ``/x``
    anchored at the source folder, ``*.ext`` or ``.*`` a name anywhere."""
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.endswith("/"):
            if not is_dir:
                continue
            pattern = pattern[:-1]
        if pattern.startswith("/"):
            if fnmatch.fnmatchcase(relative, pattern[1:]):
                return True
        elif "/" in pattern:
            if fnmatch.fnmatchcase(relative, pattern):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def source_files(source: Path, manifest: Manifest) -> list[str]:
    """The zip's members, in Blender's order: the manifest, the listed wheels, then the rest."""
    first = [MANIFEST] + [wheel.removeprefix("./") for wheel in manifest.wheels]
    rest: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            relative = prefix + entry.name
            if entry.name.startswith(".") or excluded(relative, entry.is_dir(), manifest.exclude):
                continue
            if entry.is_dir():
                walk(entry, relative + "/")
            elif relative not in first:
                rest.append(relative)

    walk(source, "")
    return first + rest


def validate(source: Path) -> Manifest:
    """The source folder would build an installable extension; else ``ManifestError``."""
    manifest = read_manifest(source)
    for wheel in manifest.wheels:
        if not (source / wheel).is_file():
            raise ManifestError(f"{MANIFEST} lists the wheel {wheel}, which is not in {source}")
    if manifest.kind == "add-on" and not (source / "__init__.py").is_file():
        raise ManifestError(f"{source} has no __init__.py: an add-on must be a Python package")
    return manifest


def build(source: Path, output_dir: Path) -> Path:
    """``<output_dir>/<id>-<version>.zip`` from ``source``, as Blender's tool would write it."""
    manifest = validate(source)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / manifest.zip_name
    partial = output_dir / f".{manifest.zip_name}"  # Blender's tool writes beside it too, then renames
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in source_files(source, manifest):
            stored = relative.lower().endswith(STORED_SUFFIXES)
            archive.write(source / relative, relative, compress_type=zipfile.ZIP_STORED if stored else None)
    partial.replace(target)
    return target


def check_zip(path: Path) -> Manifest:
    """A built zip holds a valid manifest at its root and every wheel it lists."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise ManifestError(f"{path} has no {MANIFEST} at its root")
        data = tomllib.loads(archive.read(MANIFEST).decode("utf-8"))
    missing = [wheel for wheel in data.get("wheels", []) if wheel.removeprefix("./") not in names]
    if missing:
        raise ManifestError(f"{path} lacks the wheels its manifest lists: {', '.join(missing)}")
    return Manifest(id=data["id"], version=data["version"], kind=data["type"], wheels=list(data.get("wheels", [])))
