"""Splitting a mesh into named parts with the models img23d already ships (issue 64, item 6).

The mesh is rendered from several sides with img23d's own rasterizer (``renders``), each name is
found on each render by the grounding model and cut out by the matting model (``driver`` runs them,
and every step, for the parts job, ``jobs.kinds.parts``), the masks are lifted onto the faces each render
sees (``lifting``), every face gets one name, smoothed along the surface so cuts follow creases
(``labelling``), and the mesh is cut by name with each cut closed (``pieces``). It invents no hidden geometry: a part is the faces the
mesh already had, and its cuts are closed by flat caps across their outlines, nothing more.

``surface`` holds the mesh as the split reads it (welded, with its face adjacency); ``costs`` what the
split's own work takes, said before the renders, and its refusal past what it holds. What a cap cannot
close is counted per part (``pieces.Piece.open_edges``) and said, never hidden.
"""
