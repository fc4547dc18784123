"""The zip built without Blender installs in Blender: this test run's bpy (4.2 LTS in one lane,
5.0 and 5.2 LTS in the others) installs and enables the zip addon_zip.py made, in a Blender of its
own (a child process with its own user folder), and the add-on's operators are there; disabled
again, it lets that Blender exit cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")

from blender_support import REPO  # noqa: E402

INSTALL_TIMEOUT = 180  # seconds: bpy's start, the install (with its wheel) and the enable

_CHILD = r"""
import json, pathlib, sys
import bpy
import addon_utils  # on the path once bpy is imported
result = bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
module = sys.modules.get("bl_ext.user_default.img23d")
guide = pathlib.Path(module.__file__).parent / "guide" if module else pathlib.Path("nowhere")
print("RESULT " + json.dumps({
    "result": sorted(result), "version": list(bpy.app.version[:2]),
    "enabled": "bl_ext.user_default.img23d" in bpy.context.preferences.addons,
    "operators": sorted(set(dir(bpy.ops.img23d)) & {"generate", "detect", "retexture", "open_guide"}),
    "guide": sorted(p.name for p in guide.glob("panel.*")),
}))
sys.stdout.flush()
addon_utils.disable("bl_ext.user_default.img23d", default_set=True)
"""


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_blender_installs_the_zip_built_without_blender(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    import build_addon

    built = build_addon.build(tmp_path / "dist", without_blender=True)
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "blender-user")}
    child = subprocess.run([sys.executable, "-c", _CHILD, str(built)], capture_output=True, text=True, env=env,
                           timeout=INSTALL_TIMEOUT)
    lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"Blender did not report the install (exit {child.returncode}): {child.stderr[-3000:]}"
    report = json.loads(lines[-1].removeprefix("RESULT "))
    assert report["result"] == ["FINISHED"] and report["enabled"], report
    assert report["operators"] == ["detect", "generate", "open_guide", "retexture"], report
    assert report["guide"], f"the installed add-on has no guide page (Blender {report['version']})"
    # Blender 4.2's bpy module ended such a process with a segmentation fault (exit 139) as Python shut
    # down: blender_img23d.register explains why.
    assert child.returncode == 0, (f"Blender {report['version']} exited with {child.returncode} (-11: a "
                                   f"segmentation fault) after the add-on was disabled: {child.stderr[-3000:]}")
