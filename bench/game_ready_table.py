"""The Game-ready page's tables, printed as Markdown from ``bench/game_ready.py``'s JSON, so the page
shows the file's figures and nothing retyped.

    .venv/bin/python bench/game_ready_table.py bench/results/game-ready-cpu.json
    .venv/bin/python bench/game_ready_table.py bench/results/game-ready-command-cpu.json   (with orderings)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

METHODS = ("img23d quads", "img23d triangles", "QuadriFlow", "QuadriFlow after Merge by Distance", "Decimate")


def _pct(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f} %"


def by_method(runs: list[dict]) -> str:
    lines = ["| target | method | succeeded | quads | within 15 % | seconds (median, max) | Hausdorff (median, max) "
             "| Chamfer (median) | PSNR (min, median) |", "|---|---|---|---|---|---|---|---|---|"]
    for target in sorted({run["target"] for run in runs}):
        for method in METHODS:
            rows = [r for r in runs if r["target"] == target and r["method"] == method]
            if not rows:
                continue
            good = [r for r in rows if r["ok"]]
            quads = sum(1 for r in good if r["quad_share"] == 1.0)
            within = sum(1 for r in good if abs(r["off_target"]) <= 0.15)
            seconds = [r["seconds"] for r in good]
            hausdorff = [r["hausdorff"] for r in good]
            psnr = [r["psnr_db"] for r in good if "psnr_db" in r]
            lines.append(
                f"| {target:,} | {method} | {len(good)} of {len(rows)} | {quads} all quads | {within} |"
                + (f" {statistics.median(seconds):.1f}, {max(seconds):.1f} |" if good else " — |")
                + (f" {_pct(statistics.median(hausdorff))}, {_pct(max(hausdorff))} |" if good else " — |")
                + (f" {_pct(statistics.median(r['chamfer'] for r in good), 3)} |" if good else " — |")
                + (f" {min(psnr):.1f}, {statistics.median(psnr):.1f} dB |" if psnr else " — |"))
    return "\n".join(lines)


def at_target(runs: list[dict], target: int) -> str:
    lines = [f"| mesh ({target:,} faces) | img23d quads | s | Hausdorff | PSNR | img23d triangles: Hausdorff, PSNR "
             "| QuadriFlow | Decimate: Hausdorff |", "|---|---|---|---|---|---|---|---|"]
    for mesh in dict.fromkeys(r["mesh"] for r in runs):
        rows = {r["method"]: r for r in runs if r["mesh"] == mesh and r["target"] == target}
        if not rows:
            continue
        quads, tris = rows["img23d quads"], rows["img23d triangles"]
        if quads["quad_share"] == 1.0:
            made = f"{quads['faces_out']:,} quads"
        else:  # the announced sentence: "quads failed: REASON; decimated to N triangles instead"
            reason = (quads["fallback"] or "").split(": ", 1)[-1].split(";")[0]
            made = f"fallback: {quads['faces_out']:,} triangles ({reason})"
        flow = rows["QuadriFlow"]
        merged = rows["QuadriFlow after Merge by Distance"]
        if flow["ok"]:
            flow_text = f"{flow['faces_out']:,} quads, {_pct(flow['hausdorff'])}, {flow['seconds']:.1f} s"
        elif merged["ok"]:
            flow_text = (f"refused; after Merge by Distance {merged['faces_out']:,} quads, "
                         f"{_pct(merged['hausdorff'])}, {merged['seconds']:.1f} s")
        else:
            said = flow["status"].removeprefix("CANCELLED (refused: ").removesuffix(")")
            flow_text = f"refused ({said}); refused again after Merge by Distance"
        lines.append(f"| {mesh} | {made} | {quads['seconds']:.1f} | {_pct(quads['hausdorff'])} | "
                     f"{quads['psnr_db']:.1f} dB | {_pct(tris['hausdorff'])}, {tris['psnr_db']:.1f} dB | {flow_text} | "
                     f"{_pct(rows['Decimate']['hausdorff']) if rows['Decimate']['ok'] else 'failed'} |")
    return "\n".join(lines)


def orderings(runs: list[dict], target: int) -> str:
    """img23d's quads per mesh as the ``retopo`` command made them: the file as made and the spread over
    its renumbered copies (the finish is meant to give one result for every ordering)."""
    lines = [f"| mesh ({target:,} quads) | made of | colour | result | command s | Hausdorff | over orderings (min, "
             "median, max) | Chamfer | PSNR |", "|---|---|---|---|---|---|---|---|---|"]
    for row in runs:
        if row["target"] != target or row["method"] != "img23d quads":
            continue
        spread = row.get("hausdorff_spread")
        if row["quad_share"] == 1.0:
            made = f"{row['faces_out']:,} quads"
        elif row["ok"]:
            reason = (row.get("fallback") or "").split(": ", 1)[-1].split(";")[0]
            made = f"fallback: {row['faces_out']:,} triangles ({reason})"
        else:
            made = f"failed ({row['why']})"
        lines.append(f"| {row['mesh']} | {row.get('origin', 'generated')} | {row.get('colour', '')} | {made} | "
                     f"{row.get('command_s', 0):.1f} | "
                     + (f"{_pct(row['hausdorff'])} | " if "hausdorff" in row else "— | ")
                     + (f"{_pct(spread['min'])}, {_pct(spread['median'])}, {_pct(spread['max'])} | " if spread else "— | ")
                     + (f"{_pct(row['chamfer'], 3)} | " if "chamfer" in row else "— | ")
                     + (f"{row['psnr_db']:.1f} dB |" if "psnr_db" in row else "— |"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    data = json.loads(Path(args[0]).read_text())
    print(by_method(data["runs"]))
    print()
    if any("hausdorff_orderings" in r for r in data["runs"]):
        print(orderings(data["runs"], 5000))
    else:
        print(at_target(data["runs"], 5000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
