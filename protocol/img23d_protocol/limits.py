"""Every limit an artist meets on what a job is asked for, each defined once, here: the add-on checks a
request against them before it is sent, the command line before the models load, and the backend on arrival,
all reading these numbers (``tests/test_one_definition.py`` checks that no module defines one again).

A limit of one model's own (the parts a parts model draws at most: its row's ``max_parts``) is that model's row,
which reads its number from here where it is the limit every request meets.
"""

from __future__ import annotations

# Names: the objects asked for in one picture, and the characters of one name.
MAX_TARGETS = 32
MAX_TARGET_CHARS = 200
# A prompt a picture is made from (Make Picture, a Generate without a picture): about what the image editor's text
# encoder reads (prompt.py says why).
MAX_PROMPT_CHARS = 2000
# Pictures made from one prompt (Make Picture) and variations of one Generate: each is a whole run of the models.
MAX_PICTURES = 8
# Triangles of a mesh img23d reads (Re-texture, Retopologize, parts, rig: the add-on's mesh file, a GLB, OBJ or
# PLY) or keeps (a Generate's face budget).
MAX_TRIANGLES = 5_000_000
# Triangles a split cuts: its labelling and cut hold the face graph and its system (the backend's
# parts/split/costs.py: about 1.5 minutes and 4 GB at this size on the 2-core development CPU).
MAX_SPLIT_TRIANGLES = 2_000_000
# Bones of a skeleton img23d binds: more than any character rig an artist skins by hand (Mixamo's: 65; a face
# rig: about 200).
MAX_BONES = 512
# Parts a split names: every name costs a crop per render in the matting (16 names over the 10 renders are 160
# crops, BiRefNet's batch the job's largest step), and a mesh cut into more parts than that leaves each, on
# average, under a sixteenth of the object's pixels: on a 512-pixel render about 80 x 80 pixels, the least a crop
# that BiRefNet reads at 1,024 still resolves. Past that, ask for the large parts, then split a part again.
MAX_SPLIT_PARTS = 16
# Parts a parts model draws for one object: AutoPartGen's part loop makes at most 40 (its release's default).
MAX_DRAWN_PARTS = 40
# Objects of one print's plate (Print Selected): a scene's selection may hold more than a job's names.
MAX_PRINT_OBJECTS = 256
# Triangles of one object a print takes (the backend's printing/counts.py refuses a file past it from its header; the
# add-on's Print Selected leaves such an object out before its file is written). Two million triangles over an 80 mm
# object are about 0.06 mm apart, finer than a 0.4 mm nozzle or a 0.05 mm resin layer shows. A print's time grows
# with its triangles: the real mesh subdivided to 640,000 took 38 to 64 s on the 2-core development CPU, shared
# (bench/print_prep.py --large), so two million take two to three minutes. A generated mesh has 40,000 to 500,000.
MAX_PRINT_TRIANGLES = 2_000_000

__all__ = ["MAX_BONES", "MAX_DRAWN_PARTS", "MAX_PICTURES", "MAX_PRINT_OBJECTS", "MAX_PRINT_TRIANGLES", "MAX_PROMPT_CHARS",
           "MAX_SPLIT_PARTS", "MAX_SPLIT_TRIANGLES", "MAX_TARGETS", "MAX_TARGET_CHARS", "MAX_TRIANGLES"]
