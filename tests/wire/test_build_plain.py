"""build_addon.py without Blender: addon_zip writes the zip Blender's own tool writes (the same
files, wheels and name), and refuses a source that would not install with one sentence."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from testdata import REPO

sys.path.insert(0, str(REPO))
import addon_zip  # noqa: E402
import build_addon  # noqa: E402


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_addon.stage(tmp_path_factory.mktemp("staged"))


def _members(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info.CRC for info in archive.infolist()}


def test_both_builders_write_the_same_files_under_the_same_name(staged: Path, tmp_path: Path) -> None:
    tool = build_addon.blender_extension_tool()
    if tool is None:
        pytest.skip("no Blender and no bpy here: Blender's own build cannot be compared")
    (tmp_path / "blender").mkdir()
    by_blender = build_addon.pack(staged, tmp_path / "blender", tool)
    plain = build_addon.pack(staged, tmp_path / "plain", None)
    assert plain.name == by_blender.name == "img23d-0.1.0.zip"
    assert _members(plain) == _members(by_blender)  # names and contents (CRC) alike
    with zipfile.ZipFile(plain) as archive:
        names = archive.namelist()
        stored = {i.filename for i in archive.infolist() if i.compress_type == zipfile.ZIP_STORED}
    assert names[:2] == ["blender_manifest.toml", "wheels/img23d_protocol-1.29.0-py3-none-any.whl"]
    assert "wheels/img23d_protocol-1.29.0-py3-none-any.whl" in stored
    assert stored == {n for n in names if n.endswith(addon_zip.STORED_SUFFIXES)}  # as Blender's tool stores them
    assert "__init__.py" in names and "backend/img23d_backend/service/server.py" in names
    assert not [n for n in names if "__pycache__" in n or n.rsplit("/", 1)[-1].startswith(".")]


def test_the_command_builds_with_plain_python_where_no_blender_is_found(tmp_path: Path) -> None:
    # This Python with the standard library only: no site-packages (-S: no bpy, no mkdocs), no
    # PYTHONPATH (-E), no user site (-s), and no blender on PATH.
    result = subprocess.run([sys.executable, "-E", "-s", "-S", str(REPO / "build_addon.py"), "--output-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    built = Path(result.stdout.strip().splitlines()[-1])
    assert built == tmp_path / "img23d-0.1.0.zip"
    names = set(_members(built))
    assert "guide/panel.md" in names and "guide/images/example-scene.png" in names  # Markdown: no MkDocs there
    assert addon_zip.check_zip(built).id == "img23d"


def test_a_manifest_listing_a_missing_wheel_is_refused_in_one_sentence(staged: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(staged, source)
    (source / "wheels" / "img23d_protocol-1.29.0-py3-none-any.whl").unlink()
    with pytest.raises(addon_zip.ManifestError, match=r"lists the wheel ./wheels/img23d_protocol-1.29.0-py3-none-any.whl, "
                                                     r"which is not in"):
        addon_zip.build(source, tmp_path / "out")
    assert not (tmp_path / "out" / "img23d-0.1.0.zip").exists()


@pytest.mark.parametrize("field, value, message", [
    ("version", '"one"', "not a semantic version"), ("id", '"img-23d"', "letters, digits and underscores"),
    ("tagline", '"Turns pictures into objects."', "without a full stop")])
def test_a_bad_manifest_field_is_named(staged: Path, tmp_path: Path, field: str, value: str, message: str) -> None:
    source = tmp_path / "source"
    shutil.copytree(staged, source)
    manifest = source / addon_zip.MANIFEST
    lines = [f"{field} = {value}" if line.startswith(f"{field} = ") else line
             for line in manifest.read_text(encoding="utf-8").splitlines()]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(addon_zip.ManifestError, match=message):
        addon_zip.validate(source)


@pytest.mark.parametrize("path, is_dir, expected", [
    ("__pycache__", True, True), ("a/__pycache__", True, True), ("__pycache__", False, False),
    ("x.pyc", False, True), ("a/b/x.pyc", False, True), (".git", True, True), ("backend.egg-info", True, True),
    ("img23d_backend", True, False), ("guide/index.html", False, False)])
def test_exclusion_patterns_read_as_blender_reads_the_manifests(path: str, is_dir: bool, expected: bool) -> None:
    patterns = ["__pycache__/", "*.pyc", ".*", "*.egg-info/"]
    assert addon_zip.excluded(path, is_dir, patterns) is expected


def test_the_installed_addon_runs_its_installer_from_a_terminal(staged: Path, tmp_path: Path) -> None:
    """``<add-on>/install_backend.py`` works with a Python that has none of img23d's packages:
    it imports the client and installer from the add-on's own wheels and finds its backend/."""
    plain = build_addon.pack(staged, tmp_path / "zip", None)
    addon = tmp_path / "extensions" / "img23d"
    with zipfile.ZipFile(plain) as archive:
        archive.extractall(addon)
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no PYTHONPATH, and -S: no site-packages, no .pth
    lonely = subprocess.run([sys.executable, "-I", "-S", "-c", "import img23d_client"], env=bare, capture_output=True,
                            text=True, timeout=60)
    assert lonely.returncode != 0, "this Python already has img23d_client: the test would prove nothing"
    plan = subprocess.run([sys.executable, "-I", "-S", str(addon / "install_backend.py"), "--plan"], env=bare,
                          capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("torch: "), plan.stdout
    where = subprocess.run([sys.executable, "-I", "-S", "-c",
                            f"import runpy; runpy.run_path({str(addon / 'install_backend.py')!r})\n"
                            "from img23d_client import paths; print(paths.backend_source_dir())"],
                           env=bare, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip() == str((addon / "backend").resolve())  # the add-on's backend, no checkout's
