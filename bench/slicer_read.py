"""A real slicer reads img23d's print (issue 90): PrusaSlicer's own command line on each 3MF and STL ``print`` makes.

Each print is made as a user makes it, through ``printing.request.make_print`` (the ``print`` command's own call)
at 80 mm; then PrusaSlicer reads the file three ways, each a separate ``prusa-slicer`` process with no display:

  --info          each object's size (x, y, z in mm), facets, ``manifold``, parts and volume as PrusaSlicer reads
                  them (its own 3MF reader and unit handling, not lib3mf's)
  --export-3mf    the model PrusaSlicer loaded, written back: the object names it took from the 3MF
  --export-gcode  sliced with PrusaSlicer's built-in default FFF profile (no --load: 0.4 mm nozzle, 200 x 200 mm
                  bed): whether it slices, its seconds, the G-code's layers

and each object's reported size is compared with the size ``print.json`` says it was printed at (the object
``--height-mm`` names: 80 mm), within 0.1 mm. Every line PrusaSlicer writes at ``--loglevel 2`` (errors and
warnings) is kept.

The set: the bundled example mesh (``examples/house_mesh.glb``) solid and hollow (2 mm wall, 2 drain holes), the
real Hunyuan3D-2 output (``../shared/data/hunyuan3d_shape_output.glb``; skipped, saying so, where absent), a
two-object run (a house and its chimney, placed by a Generate run's manifest, as ``tests/backend/printing`` builds
it) and the example's binary STL.

PrusaSlicer is not a dependency of img23d: install it to run this (Debian: ``apt-get install -y
--no-install-recommends prusa-slicer``, about 100 MB with its GUI libraries).

    .venv/bin/python bench/slicer_read.py [--json bench/results/slicer-read-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import trimesh

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(REPO / "protocol"))

from img23d_backend.printing.request import make_print  # noqa: E402
from img23d_protocol import PrintRequest  # noqa: E402

EXAMPLE = REPO / "examples" / "house_mesh.glb"
REAL_MESH = REPO.parent / "shared" / "data" / "hunyuan3d_shape_output.glb"
RUN_MANIFEST = REPO / "tests" / "wire" / "manifests" / "main-f49deb6-generate.json"
HEIGHT_MM = 80.0
TOLERANCE_MM = 0.1
SLICER = "prusa-slicer"
TIMEOUT_S = 600


def slicer(*args: str) -> tuple[int, str, str, float]:
    """``prusa-slicer ARGS``: exit code, stdout, its error and warning lines (not the startup trace), seconds."""
    start = time.perf_counter()
    done = subprocess.run([SLICER, "--loglevel", "2", *args], capture_output=True, text=True, timeout=TIMEOUT_S)
    said = [line for line in (done.stdout + done.stderr).splitlines()
            if re.search(r"\b(error|warning|fatal)\b", line, re.IGNORECASE) and "[trace]" not in line]
    return done.returncode, done.stdout, "\n".join(said), round(time.perf_counter() - start, 2)


def info(path: Path) -> list[dict[str, float | str]]:
    """PrusaSlicer's ``--info``: one section per object, ``key = value`` lines."""
    code, out, said, _ = slicer("--info", str(path))
    if code != 0:
        raise RuntimeError(f"prusa-slicer --info {path.name} failed ({code}): {said}")
    sections: list[dict[str, float | str]] = []
    for line in out.splitlines():
        if re.fullmatch(r"\[[^\[\]]+\]", line.strip()):   # "[plate.3mf]", not a "[time] [thread]" log line
            sections.append({})
        elif "=" in line and sections:
            key, value = (part.strip() for part in line.split("=", 1))
            sections[-1][key] = float(value) if re.fullmatch(r"-?[\d.]+", value) else value
    return sections


def names(path: Path, work: Path, colours: list[str]) -> tuple[list[str], bool]:
    """The object names PrusaSlicer took from ``path`` (it writes the model it loaded back as its own 3MF), and
    whether any colour of ours is in what it wrote (a ``displaycolor`` or a filament colour)."""
    again = work / f"{path.stem}-prusa.3mf"
    code, _, said, _ = slicer("--export-3mf", "-o", str(again), str(path))
    if code != 0:
        raise RuntimeError(f"prusa-slicer --export-3mf {path.name} failed ({code}): {said}")
    with zipfile.ZipFile(again) as archive:
        config = ElementTree.fromstring(archive.read("Metadata/Slic3r_PE_model.config"))
        written = archive.read("3D/3dmodel.model").decode("utf-8", "replace") + config_text(archive)
    taken = [entry.get("value", "") for entry in config.iter("metadata")
             if entry.get("type") == "object" and entry.get("key") == "name"]
    return taken, "displaycolor" in written or any(c[1:7].lower() in written.lower() for c in colours)


def config_text(archive: zipfile.ZipFile) -> str:
    return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
                   if name.startswith("Metadata/") and name.endswith((".config", ".ini")))


def slice_gcode(path: Path, work: Path) -> dict:
    gcode = work / f"{path.stem}.gcode"
    code, _, said, seconds = slicer("--export-gcode", "-o", str(gcode), str(path))
    text = gcode.read_text(errors="replace") if gcode.exists() else ""
    layers = text.count(";LAYER_CHANGE")
    tops = [float(z) for z in re.findall(r"^;Z:([\d.]+)", text, re.MULTILINE)]
    return {"sliced": code == 0 and layers > 0, "exit_code": code, "seconds": seconds, "layers": layers,
            "top_layer_z_mm": max(tops, default=None), "errors_and_warnings": said}


def two_object_run(work: Path) -> Path:
    """A Generate run's folder as the job leaves it (as ``tests/backend/printing`` builds it): a main run's
    manifest placing two objects, and a GLB for each (glTF is Y up: the house 1.08 tall, the chimney 1.19), here
    with vertex colours (red, grey), so the 3MF gives each a base material."""
    data = json.loads(RUN_MANIFEST.read_text(encoding="utf-8"))
    data["records"][1]["mesh"] = "chimney.glb"
    run = work / "20261122-100411-house_scene"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    for stem, extents, colour in (("house", (1.2, 1.08, 1.2), (200, 30, 40, 255)),
                                  ("chimney", (0.3, 1.19, 0.3), (90, 90, 90, 255))):
        box = trimesh.creation.box(extents=extents)
        box.visual.vertex_colors = colour   # a colour each, to see whether the slicer takes the 3MF's
        box.export(run / f"{stem}.glb")
    return run


def read_back(label: str, path: Path, printed: dict[str, dict], work: Path) -> dict:
    """What PrusaSlicer reads of ``path`` beside what ``print.json`` says was printed (object name -> its size,
    volume, place and colour)."""
    sections = info(path)
    colours = [item["colour"] for item in printed.values() if item["colour"]]
    taken, colour_kept = names(path, work, colours) if path.suffix == ".3mf" else ([path.stem], False)
    objects = []
    for index, section in enumerate(sections):
        name = taken[index] if len(taken) == len(sections) else f"#{index + 1}"
        reported = [float(section[f"size_{axis}"]) for axis in "xyz"]
        asked = printed.get(name) if len(printed) > 1 else next(iter(printed.values()))
        error = None if asked is None else round(max(abs(a - b) for a, b in zip(reported, asked["size"])), 4)
        centre = [(float(section[f"min_{axis}"]) + float(section[f"max_{axis}"])) / 2 for axis in "xy"]
        objects.append({"name": name, "reported_size_mm": [round(v, 3) for v in reported],
                        "asked_size_mm": asked and asked["size"], "largest_error_mm": error,
                        "within_0_1_mm": error is not None and error <= TOLERANCE_MM,
                        "reported_centre_mm": [round(v, 3) for v in centre],
                        "printed_position_mm": asked and asked["position"], "min_z_mm": section.get("min_z"),
                        "manifold": section.get("manifold"), "parts": section.get("number_of_parts"),
                        "facets": section.get("number_of_facets"), "volume_mm3": section.get("volume"),
                        "printed_volume_mm3": asked and asked["volume"], "colour_in_3mf": asked and asked["colour"]})
    # PrusaSlicer names a file's lone object after the file (plate.3mf's "house_mesh" shows as "plate"; the same
    # bytes as xyz.3mf show as "xyz"): the object's own name is kept only where a file holds several.
    lone = len(printed) == 1 and taken == [path.stem]
    result = {"file": label, "objects_reported": len(sections), "objects_printed": len(printed),
              "names_taken": taken, "names_agree": sorted(taken) == sorted(printed) or lone,
              "named_after_the_file": lone and taken != list(printed), "colour_kept_by_slicer": colour_kept if colours else None,
              "objects": objects,
              "slice": slice_gcode(path, work)}
    result["agrees"] = (result["names_agree"] and len(sections) == len(printed) and result["slice"]["sliced"]
                        and all(item["within_0_1_mm"] and item["manifold"] == "yes" for item in objects))
    return result


def print_one(label: str, source: Path, work: Path, hollow: bool = False, reference: str = "") -> tuple:
    request = PrintRequest(source=str(source), height_mm=HEIGHT_MM, hollow=hollow, object=reference)
    start = time.perf_counter()
    made = make_print(request, work / "runs")
    seconds = round(time.perf_counter() - start, 2)
    sizes = {item.name: {"size": item.size_mm, "volume": item.volume_mm3, "position": item.position_mm,
                         "colour": item.colour} for item in made.record.objects if item.printed}
    print(f"{label}: printed in {seconds} s", flush=True)
    return made.folder, sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if shutil.which(SLICER) is None:
        print(f"{SLICER} is not installed (apt-get install -y --no-install-recommends prusa-slicer)")
        return 2
    shown = subprocess.run([SLICER, "--help"], capture_output=True, text=True).stdout
    version = next(line for line in shown.splitlines() if line.startswith("PrusaSlicer"))
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="img23d-slicer-") as scratch:
        work = Path(scratch)
        plan = [("house_mesh solid 80 mm", EXAMPLE, False, ""),
                ("house_mesh hollow 80 mm (2 mm wall, 2 drain holes)", EXAMPLE, True, "")]
        if REAL_MESH.exists():
            plan.append(("hunyuan3d_shape_output solid 80 mm", REAL_MESH, False, ""))
        else:
            skipped.append(f"{REAL_MESH}: absent")
        plan.append(("two-object run (house 80 mm, chimney beside it)", two_object_run(work), False, "house"))
        for index, (label, source, hollow, reference) in enumerate(plan):
            folder, sizes = print_one(label, source, work / str(index), hollow, reference)
            results.append(read_back(f"{label}: plate.3mf", folder / "plate.3mf", sizes, work))
            print(json.dumps(results[-1]), flush=True)
            if index == 0:
                stl = folder / "house_mesh.stl"
                results.append(read_back(f"{label}: house_mesh.stl", stl, sizes, work))
                print(json.dumps(results[-1]), flush=True)
    report = {"slicer": version, "host": platform.platform(), "cpus": os.cpu_count(),
              "load_average": os.getloadavg(), "height_mm": HEIGHT_MM, "tolerance_mm": TOLERANCE_MM,
              "profile": "PrusaSlicer's built-in defaults (no --load)", "skipped": skipped, "files": results,
              "all_agree": all(item["agrees"] for item in results)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{version.split()[0]}: {'all agree' if report['all_agree'] else 'DISAGREES'}")
    return 0 if report["all_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
