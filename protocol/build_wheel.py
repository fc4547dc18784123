"""Build the protocol package's wheel, byte for byte the same from the same source.

    python protocol/build_wheel.py [--output-dir wheels]

A wheel is a zip with three metadata files beside the package (PEP 427); writing it here,
with the standard library, keeps it reproducible: entries sorted, every timestamp 1980-01-01,
fixed permissions, no compression, LF line endings in the source. So the wheel committed in
the repository's ``wheels/`` can be checked against the source at any time by building it
again and comparing bytes (tests/test_protocol_wheel.py), and the add-on (which installs
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


def project() -> dict:
    return tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def wheel_name() -> str:
    meta = project()
    return f"{meta['name'].replace('-', '_')}-{meta['version']}-py3-none-any.whl"


def _sources() -> list[tuple[str, bytes]]:
    files = sorted(p for p in (HERE / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)
    # A Windows checkout may have CRLF endings; the wheel must not depend on that.
    return [(p.relative_to(HERE).as_posix(), p.read_bytes().replace(b"\r\n", b"\n")) for p in files]


def _metadata_files(dist_info: str) -> list[tuple[str, bytes]]:
    meta = project()
    metadata = (f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
                f"Summary: {meta['description']}\nLicense: {meta['license']}\n"
                f"Requires-Python: {meta['requires-python']}\n")
    wheel = "Wheel-Version: 1.0\nGenerator: img23d build_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel.encode())]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build(output_dir: Path) -> Path:
    """Write the wheel into ``output_dir`` (replacing one of the same name) and return its path."""
    meta = project()
    dist_info = f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    entries = _sources() + _metadata_files(dist_info)
    record = "\n".join([*(_record_line(n, d) for n, d in entries), f"{dist_info}/RECORD,,"]) + "\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / wheel_name()
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
