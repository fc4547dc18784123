"""The main job, headless: picture + names -> objects in a Blender scene, a .blend and a preview.

    .venv/bin/python scripts/main_job.py [--models tiny|default] [--image PATH] [--names "a, b"]
                                         [--out DIR] [--no-texture] [--backend-python PATH]

Runs Blender as a Python module (the same code as ``blender -b --python``): builds the
extension zip, installs it into a private Blender user folder under ``--out``, points it at
the backend's Python, runs ``bpy.ops.img23d.generate`` and writes ``<out>/scene.blend`` and a
small Cycles (CPU) render ``<out>/preview.png`` through the camera Generate adds to the run's
collection, which sees the objects where the picture shows them.

The backend's Python is ``--backend-python``, else ``$IMG23D_BACKEND_PYTHON``, else the
repository's ``.venv``: the Blender running this script need not have the backend's packages.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT / "examples" / "house_scene.png"  # the repository's own (examples/README.md)
ADDON_MODULE = "bl_ext.user_default.img23d"


def default_backend_python() -> Path:
    """``$IMG23D_BACKEND_PYTHON``, else the repository's ``.venv`` interpreter."""
    chosen = os.environ.get("IMG23D_BACKEND_PYTHON", "").strip()
    if chosen:
        return Path(chosen)
    return ROOT / ".venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=("tiny", "default"), default="tiny")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--names", default="house, chimney, barrel")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "main-job")
    parser.add_argument("--no-texture", action="store_true")
    parser.add_argument("--accept-licence", action="store_true",
                        help="accept the licences that restrict territory or use (Hunyuan3D-2's: not the EU, UK or "
                             "South Korea; over 1M monthly users needs Tencent's licence), so --models default may "
                             "download those models: read them first (python -m img23d_backend models)")
    parser.add_argument("--backend-python", type=Path, default=None,
                        help="the interpreter of an environment with the backend's packages "
                             "(default: $IMG23D_BACKEND_PYTHON, else .venv)")
    remote = parser.add_argument_group("the backend on another machine, over SSH")
    remote.add_argument("--remote", metavar="HOST", default="",
                        help="run the backend on HOST (user@host, or an alias from ~/.ssh/config) through ssh")
    remote.add_argument("--remote-python", metavar="PATH", default="",
                        help="the backend environment's Python on HOST")
    remote.add_argument("--remote-runs", metavar="PATH", default="~/img23d-runs",
                        help="the runs folder on HOST (default ~/img23d-runs)")
    remote.add_argument("--ssh-config", type=Path, default=None, metavar="FILE",
                        help="an ssh config file of its own (ssh -F), instead of ~/.ssh/config")
    args = parser.parse_args(argv)
    if args.remote:
        if not args.remote_python:
            parser.error("--remote needs --remote-python: the backend environment's Python on that host")
        return args
    args.backend_python = (args.backend_python or default_backend_python()).expanduser()
    if not args.backend_python.is_file():
        parser.error(f"no backend Python at {args.backend_python}: run scripts/setup_env.sh, or pass "
                     "--backend-python (or set IMG23D_BACKEND_PYTHON) to an environment with the backend")
    return args


def install_addon(out: Path):
    os.environ["BLENDER_USER_RESOURCES"] = str(out / "blender-user")  # read when bpy starts
    import bpy

    sys.path.insert(0, str(ROOT))
    import build_addon

    zip_path = build_addon.build(out / "dist")
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    return bpy


def configure(bpy, args: argparse.Namespace) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    if args.remote:
        prefs.backend, prefs.ssh_host, prefs.ssh_python = "SSH", args.remote, args.remote_python
        prefs.ssh_runs_dir = args.remote_runs
        prefs.ssh_config = str(args.ssh_config.resolve()) if args.ssh_config else ""
    else:
        prefs.python_path = str(args.backend_python)
    prefs.runs_dir = str(args.out.resolve() / "runs")
    prefs.model_set = args.models.upper()
    if args.models == "default":
        bpy.context.preferences.system.use_online_access = True  # the real models are downloaded once
    if args.accept_licence:
        import img23d_protocol as protocol  # Blender installed it with the add-on

        for entry in protocol.MODEL_LICENCES.values():
            if entry.licence.restricted:
                prefs.accept_licence(entry.licence.key)
    settings = bpy.context.scene.img23d
    settings.image_path = str(args.image.resolve())
    settings.targets = args.names
    settings.texture = not args.no_texture
    if args.models == "tiny":
        # The replicas are random: keep the job to seconds; the real models use the preset.
        settings.quality = "DRAFT"
        settings.steps, settings.octree_resolution = 5, 64
        settings.texture_size, settings.paint_steps, settings.delight_steps = 512, 4, 4


def clear_default_objects(bpy) -> None:
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)


PREVIEW_LONG_SIDE = 480


def render_preview(bpy, objects: list, out: Path) -> Path:
    """A small Cycles CPU render through the run's camera (the scene's camera once Generate ran
    in a scene without one), lit by a sun, at the picture's aspect ratio."""
    scene = bpy.context.scene
    [collection] = {c for obj in objects for c in obj.users_collection}
    cameras = [o for o in collection.objects if o.type == "CAMERA" and o.get("img23d_camera")]
    if not cameras or scene.camera not in cameras:
        raise RuntimeError(f"the run's collection {collection.name!r} has no camera of its own in use")
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", type="SUN"))
    sun.rotation_euler = (math.radians(50), 0, math.radians(30))
    scene.collection.objects.link(sun)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 16
    width, height = scene.render.resolution_x, scene.render.resolution_y  # the picture's aspect
    scene.render.resolution_x = round(PREVIEW_LONG_SIDE * width / max(width, height))
    scene.render.resolution_y = round(PREVIEW_LONG_SIDE * height / max(width, height))
    scene.render.resolution_percentage = 100
    preview = out / "preview.png"
    scene.render.filepath = str(preview)
    bpy.ops.render.render(write_still=True)
    return preview


def say(doing: str) -> None:
    """What the job does next, on stderr at once: each step is silent for seconds to minutes (stdout keeps the
    results)."""
    print(f"main job: {doing}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    say(f"building the add-on and installing it into a Blender user folder of its own ({args.out / 'blender-user'})")
    bpy = install_addon(args.out.resolve())
    clear_default_objects(bpy)
    configure(bpy, args)
    backend = f"on {args.remote}" if args.remote else f"with {args.backend_python}"
    say(f"generating {args.names!r} from {args.image.name} with the {args.models} models: the backend starts "
        f"{backend} and loads its models first (about a minute on a CPU with the tiny ones)")
    try:
        bpy.ops.img23d.generate()
    except RuntimeError as exc:  # the operator's error report
        print(f"generate failed: {exc}", file=sys.stderr)
        return 1
    objects = [o for o in bpy.data.objects if o.get("img23d_target")]
    if not objects:
        print("generate made no objects", file=sys.stderr)
        return 1
    blend = args.out.resolve() / "scene.blend"
    say("rendering the preview (Cycles on the CPU, 16 samples)")
    try:
        preview = render_preview(bpy, objects, args.out.resolve())
    except RuntimeError as exc:
        print(f"preview failed: {exc}", file=sys.stderr)
        return 1
    say(f"saving {blend.name}")
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    sys.modules[ADDON_MODULE].runtime.shutdown()
    print(f"objects: {', '.join(sorted(o.name for o in objects))}")
    print(f"scene:   {blend}")
    print(f"preview: {preview}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
