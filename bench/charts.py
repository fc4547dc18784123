"""Charts of the benchmark results, for the guide's Performance page (Pillow only).

    python bench/charts.py [--results bench/results] [--out docs/images]

For every ``chain-*.json`` (``bench/chain.py --json``): the warm job's seconds per residency
policy for each workload (targets, textured or not), as grouped bars, in ``chart-<name>.png``.
For every ``full-size-load-*.json`` (``bench/full_size_models.py --check --json``): each model's
``load_s`` beside ``read_s``. For every ``game-ready-*.json`` (``bench/game_ready.py --json``): at the
goal's face target (5,000), each method's Hausdorff distance and seconds per mesh, one chart
above the other (a failed run has no bar). From ``scene-truth-before-metric-cpu.json`` and
``scene-truth-metric-fit-cpu.json`` (``bench/scene_truth.py --inputs metric``): each scene's F1 at 0.1 m before and
after, and before at its best single scale. A result from a GPU (``chain-full-size-gpu.json``, once measured)
gets its chart by running this again; the page then shows it beside the CPU ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
WIDTH, ROW, TOP, LEFT, RIGHT = 900, 22, 70, 190, 80
INK, GRID, BACK = (40, 40, 40), (225, 225, 222), (252, 252, 250)
SERIES = ((41, 114, 181), (228, 87, 46), (92, 166, 74), (142, 86, 171), (200, 160, 40))


def bars(title: str, note: str, groups: list[tuple[str, dict[str, float]]], unit: str = "s",
         order: list[str] | None = None) -> Image.Image:
    """Grouped horizontal bars: one group per label, one bar per series (in ``order``, else as they
    first appear), a legend on top."""
    series = order or list(dict.fromkeys(name for _, values in groups for name in values))
    height = TOP + len(groups) * (len(series) * ROW + 14) + 40
    image = Image.new("RGB", (WIDTH, height), BACK)
    draw = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(size=16), ImageFont.load_default(size=13)
    top = max((v for _, values in groups for v in values.values()), default=1.0) or 1.0
    scale = (WIDTH - LEFT - RIGHT) / top
    draw.text((16, 12), title, fill=INK, font=font)
    x = 16
    for number, name in enumerate(series):
        draw.rectangle([x, 42, x + 12, 54], fill=SERIES[number % len(SERIES)])
        draw.text((x + 18, 48), name, fill=INK, font=small, anchor="lm")
        x += 30 + int(draw.textlength(name, font=small))
    y = TOP
    for label, values in groups:
        draw.text((LEFT - 10, y + len(series) * ROW / 2), label, fill=INK, font=small, anchor="rm")
        for number, name in enumerate(series):
            if name in values:
                width = values[name] * scale
                draw.rectangle([LEFT, y + 3, LEFT + max(width, 1), y + ROW - 3], fill=SERIES[number % len(SERIES)])
                draw.text((LEFT + width + 6, y + ROW / 2), f"{values[name]:.2f} {unit}", fill=INK, font=small,
                          anchor="lm")
            y += ROW
        draw.line([LEFT, y + 6, WIDTH - RIGHT, y + 6], fill=GRID)
        y += 14
    draw.text((16, height - 22), note, fill=(110, 110, 110), font=small, anchor="lm")
    return image


def chain_chart(data: dict) -> Image.Image:
    """The warm (second) job of each workload, per policy."""
    groups: dict[str, dict[str, float]] = {}
    for policy, runs in data["runs"].items():
        for run in runs:
            if run["job"] != 2:
                continue
            label = f"{run['targets']} target{'s' * (run['targets'] != 1)}" + (", textured" if run["textured"] else "")
            groups.setdefault(label, {})[policy] = float(run["seconds"])
    return bars(f"Warm job, seconds per residency policy: {data['models']} models on {data['device']}",
                "bench/chain.py; seed: load before each use, resident: load once and keep, managed: img23d's manager",
                list(groups.items()))


def load_chart(data: dict) -> Image.Image:
    groups = [(role, {"load_s": float(m["load_s"]), "read_s": float(m["read_s"])})
              for role, m in sorted(data["models"].items())]
    return bars(f"Loading each full-size model beside reading its files, on {data['device']}",
                "bench/full_size_models.py --check; the goal: load within 2x the read", groups)


def game_ready_chart(data: dict, target: int = 5000) -> Image.Image:
    """Hausdorff distance (share of the diagonal) and seconds per object at ``target``, per mesh and method."""
    distance: dict[str, dict[str, float]] = {}
    seconds: dict[str, dict[str, float]] = {}
    runs = [run for run in data["runs"] if run["target"] == target]
    order = list(dict.fromkeys(run["method"] for run in runs))
    for run in runs:
        label = run["mesh"] + (" (quads fell back)" if any(
            r["mesh"] == run["mesh"] and r["method"] == "img23d quads" and r.get("fallback") for r in runs) else "")
        distance.setdefault(label, {})
        seconds.setdefault(label, {})
        if run["ok"]:
            distance[label][run["method"]] = 100.0 * float(run["hausdorff"])
            seconds[label][run["method"]] = float(run["seconds"])
    device = data["device"].replace("(R)", "").replace(" Processor", "")  # trademark marks: the title fits the width
    top = bars(f"Hausdorff distance at {target:,} faces, % of the bounding-box diagonal (goal: 1 %), on {device}",
               "bench/game_ready.py; no bar: the method failed on that mesh (QuadriFlow refused it)",
               list(distance.items()), unit="%", order=order)
    bottom = bars(f"Seconds per object at {target:,} faces (img23d: remesh + {data['bake_size']} px bake; goal: 10 s)",
                  "Blender's QuadriFlow and Decimate remesh only (no bake)", list(seconds.items()), order=order)
    sheet = Image.new("RGB", (WIDTH, top.height + bottom.height), BACK)
    sheet.paste(top, (0, 0))
    sheet.paste(bottom, (0, top.height))
    return sheet


def scene_truth_chart(before: dict, after: dict) -> Image.Image:
    """Per scene, the layout's F1 at 0.1 m in the metric camera frame (``bench/scene_truth.py --inputs metric``)
    before and after a change, and before at its best single scale (what only the scale cost)."""
    groups = [(name, {"before": before["scenes"][name]["metric"]["f1_0.1"],
                      "after": after["scenes"][name]["metric"]["f1_0.1"],
                      "before, best single scale": before["scenes"][name]["best_scale"]["f1_0.1"]})
              for name in after["scenes"] if name in before["scenes"]]
    return bars("Scenes against the truth: F1 at 0.1 m, metric camera frame, perfect inputs",
                "bench/scene_truth.py --inputs metric (before: scene-truth-before-metric-cpu.json)", groups, unit="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for pattern, draw in (("chain-*.json", chain_chart), ("full-size-load-*.json", load_chart),
                          ("game-ready-*.json", game_ready_chart)):
        for path in sorted(args.results.glob(pattern)):
            target = args.out / f"chart-{path.stem}.png"
            draw(json.loads(path.read_text())).save(target, format="PNG", optimize=True)
            print(f"{target}: {target.stat().st_size // 1024} KB")
    before, after = args.results / "scene-truth-before-metric-cpu.json", args.results / "scene-truth-metric-fit-cpu.json"
    if before.is_file() and after.is_file():
        target = args.out / "chart-scene-truth-cpu.png"
        scene_truth_chart(json.loads(before.read_text()), json.loads(after.read_text())).save(target, optimize=True)
        print(f"{target}: {target.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
