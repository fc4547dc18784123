"""A photo's pose told by its colours where its outline cannot tell it.

A barrel, a vase or a bottle looks the same from a little to the left as from a little to the right, and
from a little above as from as far below: its outline fits every turn of the camera about +Z, and either
sign of a tilt, about equally well, so ``silhouette_fit.fit_pose`` keeps the side's own (a pose is kept only
when its outline fits clearly better). A photo taken 20 degrees off the back of a barrel is then pasted 20
degrees round from where it belongs. What does tell the pose is what the photo shows where the pictures
placed before it (the front, then the sides next to it) show the same surface: the pose whose colours agree
with theirs best, exposure matched, is the photo's.

``colour_pose`` first asks whether the outline tells: a turn of ``PROBE`` degrees either way that fits it
clearly worse means it does (a house, a slab with a post), and the outline's fit stands. Otherwise it tries
the turns within ``MAX_YAW`` every ``YAW_STEP`` degrees and the tilts within ``MAX_PITCH`` every
``PITCH_STEP`` (with the outline's own and its mirror), at the outline's distance and orthographic (a
close-up's outline and a tilted one's can be alike), each camera placed on the cut-out by its moments
(``silhouette_fit.posed``, quick) and judged by ``score`` (how far its colours lie from the placed
pictures' on the texels both see well, or None where they share too few); a pose whose outline fits
clearly worse than the outline's own is not the photo's, whatever its colours. The best is refined down to
``FINEST`` degrees, fitted in full, and kept when its colours agree clearly better than the outline's
pose's (``CLEARLY_AGREES``) and its outline fits as well. The first steps are finer than a barrel's staves
repeat (every 20 degrees on the test's barrel), so the grid does not settle on a stave's neighbour. Where
no picture placed before shares surface with the photo (a barrel's back photo with the front alone) the
pose cannot be told, and the outline's stands.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .silhouette_fit import CLEARLY_BETTER, MAX_PITCH, MAX_YAW, SilhouetteFit

PROBE = 10.0           # degrees either way a turn is tried to see whether the outline tells the pose
YAW_STEP = 5.0         # degrees between the turns first tried (finer than a barrel's staves repeat)
PITCH_STEP = 10.0      # ... and between the tilts
FINEST = 1.25          # the refinement's last step, degrees
CLEARLY_AGREES = 0.8   # a pose is kept when its colour difference is below this share of the outline's pose's
QUICK_SLACK = 0.02     # quick (moments) placements fit a little worse than full ones: their tolerance


Pose = tuple[float, float, "float | None"]   # yaw and pitch (degrees), distance (None: orthographic)


def colour_pose(fit: SilhouetteFit, posed: Callable[[float, float, float | None, bool], SilhouetteFit],
                score: Callable[[SilhouetteFit], float | None]) -> SilhouetteFit:
    """``fit`` turned and tilted (within ``MAX_YAW`` and ``MAX_PITCH`` of its side) to where its colours
    agree best with the pictures placed before it, among the poses its outline cannot tell apart; ``fit``
    itself when none agrees clearly better. ``posed(yaw, pitch, distance, quick)`` fits the photo's camera
    at that pose; ``score(fit)`` says how far its colours lie from the placed pictures' (None where they
    share too little to say)."""
    start: Pose = (round(fit.camera.yaw, 4), round(fit.camera.pitch, 4), fit.camera.distance)
    # A close-up's outline and a tilted one's can be alike (a barrel's rims curve either way): where the
    # outline chose a close-up, the orthographic camera is tried too, and the colours choose.
    distances = [fit.camera.distance] + ([None] if fit.camera.distance is not None else [])
    outlines: dict[Pose, SilhouetteFit] = {}
    scores: dict[Pose, float | None] = {}

    def outline(pose: Pose) -> SilhouetteFit:
        if pose not in outlines:
            outlines[pose] = posed(*pose, True)
        return outlines[pose]

    tolerance = max(outline(start).residual, fit.residual) + QUICK_SLACK
    # Where a turn of ``PROBE`` degrees either way fits the outline clearly worse, the outline tells the pose
    # (a house, a slab with a post): the colours are not asked.
    probes = [outline((round(start[0] + way * PROBE, 4), start[1], start[2])) for way in (-1.0, 1.0)
              if abs(start[0] + way * PROBE) <= MAX_YAW]
    if any(probe.residual > outline(start).residual + CLEARLY_BETTER for probe in probes):
        return fit

    def judge(yaw: float, pitch: float, distance: float | None) -> float | None:
        pose = (round(float(yaw), 4), round(float(pitch), 4), distance)
        if abs(pose[0]) > MAX_YAW or abs(pose[1]) > MAX_PITCH:
            return None
        if pose not in scores:
            # A pose whose outline fits clearly worse is not the photo's, however its colours agree.
            candidate = outline(pose)
            scores[pose] = score(candidate) if candidate.residual <= tolerance else None
        return scores[pose]

    turns = np.arange(-np.floor(MAX_YAW / YAW_STEP), np.floor(MAX_YAW / YAW_STEP) + 1) * YAW_STEP
    # The grid's tilts, the outline's own and its mirror (a barrel's outline from as far below is the same).
    tilts = {*(np.arange(-np.floor(MAX_PITCH / PITCH_STEP), np.floor(MAX_PITCH / PITCH_STEP) + 1) * PITCH_STEP),
             start[1], -start[1]}
    # A tilt the outline rules out at the photo's own turn is ruled out at every turn (an outline that cannot
    # tell a turn is the same at each): the grid tries only the tilts it allows there.
    allowed = [(float(pitch), distance) for distance in distances for pitch in sorted(tilts)
               if outline((start[0], round(float(pitch), 4), distance)).residual <= tolerance]
    for yaw in turns:
        for pitch, distance in allowed:
            judge(yaw, pitch, distance)
    scored = [(value, pose) for pose, value in scores.items() if value is not None]
    if not scored:
        return fit  # nothing placed shares the surface with the photo in any pose its outline allows
    best_value, best = min(scored, key=lambda item: item[0])
    step = YAW_STEP / 2
    while step >= FINEST:
        moved = False
        for axis in range(2):
            for sign in (1.0, -1.0):
                pose = list(best)
                pose[axis] = round(pose[axis] + sign * step, 4)
                value = judge(*pose)
                if value is not None and value < best_value:
                    best_value, best, moved = value, (pose[0], pose[1], pose[2]), True
        if not moved:
            step /= 2
    first = judge(*start)
    if best == start or (first is not None and best_value >= first * CLEARLY_AGREES):
        return fit
    found = posed(*best, False)
    return found if found.residual <= fit.residual + CLEARLY_BETTER else fit
