"""Build the protocol package's wheel, byte for byte the same from the same source.

    python protocol/build_wheel.py [--output-dir wheels]

The same code builds the add-on client's wheel (``build(out, REPO / "client", content_version=True)``,
from build_addon.py), whose version carries its sources' digest.

A wheel is a zip with three metadata files beside the package (PEP 427); writing it here,
with the standard library, keeps it reproducible: entries sorted, every timestamp 1980-01-01,
fixed permissions, no compression, LF line endings in the source. So the wheel committed in
the repository's ``wheels/`` can be checked against the source at any time by building it
again and comparing bytes (tests/wire/test_wheel.py), and the add-on (which installs
that wheel) and the backend (which imports the source) cannot drift apart unnoticed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "img23d_protocol"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def project(folder: Path | None = None) -> dict:
    return tomllib.loads(((folder or HERE) / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def packages(folder: Path | None = None) -> list[str]:
    """The packages the wheel carries: pyproject's ``[tool.setuptools.packages.find] include``."""
    data = tomllib.loads(((folder or HERE) / "pyproject.toml").read_text(encoding="utf-8"))
    return [name.rstrip("*") for name in data["tool"]["setuptools"]["packages"]["find"]["include"]]


def version(folder: Path | None = None, content_version: bool = False) -> str:
    """pyproject's version; with ``content_version``, followed by ``+`` and the first 12 hex digits of
    the sources' SHA-256, so that any change of the code changes the wheel's name."""
    base = project(folder)["version"]
    if not content_version:
        return base
    digest = hashlib.sha256()
    for name, data in _sources(folder):
        digest.update(name.encode() + b"\0" + data + b"\0")
    return f"{base}+{digest.hexdigest()[:12]}"


def wheel_name(folder: Path | None = None, content_version: bool = False) -> str:
    return f"{project(folder)['name'].replace('-', '_')}-{version(folder, content_version)}-py3-none-any.whl"


def _sources(folder: Path | None = None) -> list[tuple[str, bytes]]:
    root = folder or HERE
    files = sorted(p for package in packages(root) for p in (root / package).rglob("*.py")
                   if "__pycache__" not in p.parts)
    # A Windows checkout may have CRLF endings; the wheel must not depend on that.
    return [(p.relative_to(root).as_posix(), p.read_bytes().replace(b"\r\n", b"\n")) for p in files]


def _metadata_files(folder: Path, dist_info: str, full_version: str) -> list[tuple[str, bytes]]:
    meta = project(folder)
    metadata = (f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {full_version}\n"
                f"Summary: {meta['description']}\nLicense: {meta['license']}\n"
                f"Requires-Python: {meta['requires-python']}\n")
    wheel = "Wheel-Version: 1.0\nGenerator: img23d build_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel.encode())]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build(output_dir: Path, folder: Path | None = None, content_version: bool = False) -> Path:
    """Write the wheel of the project in ``folder`` (default: the protocol) into ``output_dir``
    (replacing one of the same name) and return its path."""
    root = folder or HERE
    full_version = version(root, content_version)
    dist_info = f"{project(root)['name'].replace('-', '_')}-{full_version}.dist-info"
    entries = _sources(root) + _metadata_files(root, dist_info, full_version)
    record = "\n".join([*(_record_line(n, d) for n, d in entries), f"{dist_info}/RECORD,,"]) + "\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / wheel_name(root, content_version)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            # Stored, not deflated: compressed bytes differ between zlib builds.
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=HERE.parent / "wheels")
    print(build(parser.parse_args(argv).output_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
