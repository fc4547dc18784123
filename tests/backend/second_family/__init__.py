"""Silhouette, a test-only second model family, as a real family's folder would be (``families/<name>/``): its
shape model extrudes a cut-out's silhouette into a slab (``shape``), its paint model projects the picture onto the
mesh from the front (``paint``); ``specs`` holds its rows, ``family`` its ``Family``, ``replicas`` its replicas
(each network's known weights written by its own code, no download). ``rows`` holds the lines a real family adds to
the protocol's three files; tests/backend/families/test_family_second.py sets them there and stands this folder
where the families' table looks for a family's code.

Both answers are known from the picture alone: a rectangle becomes a box, the picture's left half colours the
mesh's left half (glTF's frame: +X right, +Y up, the picture seen from +Z).
"""
