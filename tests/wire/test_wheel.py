"""The protocol's and the client's wheels in wheels/ are the sources in protocol/ and client/, and
everything names one version."""

from __future__ import annotations

import sys
import tomllib
import zipfile
from pathlib import Path

import img23d_protocol

from testdata import REPO

sys.path.insert(0, str(REPO))  # build_addon.py and protocol/build_wheel.py live at the top

from protocol import build_wheel  # noqa: E402


def test_the_committed_wheel_is_the_source_rebuilt(tmp_path: Path) -> None:
    rebuilt = build_wheel.build(tmp_path)
    committed = REPO / "wheels" / rebuilt.name
    assert committed.is_file(), f"{committed} is missing: run python protocol/build_wheel.py and commit it"
    assert committed.read_bytes() == rebuilt.read_bytes(), (
        "wheels/ holds a protocol wheel that differs from protocol/'s source: run python protocol/build_wheel.py "
        "and commit the wheel")
    assert sorted(p.name for p in (REPO / "wheels").glob("img23d_protocol-*.whl")) == [rebuilt.name], \
        "only the current protocol wheel may be in wheels/"


def test_a_changed_source_changes_the_wheel(tmp_path: Path, monkeypatch) -> None:
    # The comparison above can fail: the wheel carries every byte of the package's source.
    copy = tmp_path / "protocol"
    (copy / "img23d_protocol").mkdir(parents=True)
    (copy / "pyproject.toml").write_bytes((build_wheel.HERE / "pyproject.toml").read_bytes())
    for source in (build_wheel.HERE / "img23d_protocol").glob("*.py"):
        (copy / "img23d_protocol" / source.name).write_bytes(source.read_bytes())
    monkeypatch.setattr(build_wheel, "HERE", copy)
    first = build_wheel.build(tmp_path / "a").read_bytes()
    with open(copy / "img23d_protocol" / "__init__.py", "a", encoding="utf-8") as source:
        source.write("# one more line\n")
    assert build_wheel.build(tmp_path / "b").read_bytes() != first


def test_the_wheel_installs_as_a_package_with_its_metadata() -> None:
    wheel = REPO / "wheels" / build_wheel.wheel_name()
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"img23d_protocol-{img23d_protocol.__version__}.dist-info/METADATA").decode()
    assert "img23d_protocol/__init__.py" in names
    assert f"Version: {img23d_protocol.__version__}" in metadata


def test_one_version_everywhere() -> None:
    version = img23d_protocol.__version__
    major, minor, _patch = (int(part) for part in version.split("."))
    assert (major, minor) == (img23d_protocol.PROTOCOL_MAJOR, img23d_protocol.PROTOCOL_MINOR), \
        "the package's version starts with the protocol's major.minor"
    assert tomllib.loads((REPO / "protocol" / "pyproject.toml").read_text())["project"]["version"] == version
    manifest = tomllib.loads((REPO / "blender_img23d" / "blender_manifest.toml").read_text())
    assert manifest["wheels"][0] == f"./wheels/img23d_protocol-{version}-py3-none-any.whl"
    backend = tomllib.loads((REPO / "backend" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"img23d-protocol=={version}" in backend


def test_the_committed_client_wheel_is_the_source_rebuilt_and_listed(tmp_path: Path) -> None:
    rebuilt = build_wheel.build(tmp_path, REPO / "client", content_version=True)
    committed = REPO / "wheels" / rebuilt.name
    assert committed.is_file(), (f"{committed.name} is not in wheels/ (client/ changed since it was built): run "
                                 "python build_addon.py, and list the new wheel in blender_manifest.toml")
    assert committed.read_bytes() == rebuilt.read_bytes()
    assert sorted(p.name for p in (REPO / "wheels").glob("img23d_client-*.whl")) == [rebuilt.name], \
        "only the current client wheel may be in wheels/"
    manifest = tomllib.loads((REPO / "blender_img23d" / "blender_manifest.toml").read_text())
    assert f"./wheels/{rebuilt.name}" in manifest["wheels"]


def test_the_client_wheel_carries_both_packages_and_no_bpy_importing_module(tmp_path: Path) -> None:
    wheel = build_wheel.build(tmp_path, REPO / "client", content_version=True)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "img23d_client/session.py" in names and "img23d_installer/cli.py" in names
    assert not [n for n in names if n.startswith("blender_img23d") or "__pycache__" in n]


def test_a_changed_client_source_changes_the_client_wheels_name(tmp_path: Path) -> None:
    # Blender installs an extension's wheel only when none of that name is installed: a changed client
    # must come with a new name, or an updated add-on would keep running the old client.
    copy = tmp_path / "client"
    for package in ("img23d_client", "img23d_installer"):
        (copy / package).mkdir(parents=True)
        for source in (REPO / "client" / package).glob("*.py"):
            (copy / package / source.name).write_bytes(source.read_bytes())
    (copy / "pyproject.toml").write_bytes((REPO / "client" / "pyproject.toml").read_bytes())
    first = build_wheel.wheel_name(copy, content_version=True)
    assert first == build_wheel.wheel_name(REPO / "client", content_version=True)
    with open(copy / "img23d_client" / "watch.py", "a", encoding="utf-8") as source:
        source.write("# one more line\n")
    assert build_wheel.wheel_name(copy, content_version=True) != first
