"""A test-only second parts model, "Pieces", as a real one's folder would be (``parts/<model>/``: ``model.py``
with its row, ``generator.py`` with its code), registered by a test in ``parts/table.py``'s ``PARTS_PACKAGES``
alone (tests/backend/parts/test_role_parts_second.py), with its protocol and licence rows set beside it.

It makes a mesh's connected pieces its parts, lowest first: an answer known from the mesh alone. Its two
networks are a part each of the model manager's (``lift``: the vertices into its frame, the identity; ``order``:
the height it orders pieces by, glTF's +Y), read one phase after the other, so a budget that holds one of them
runs it.
"""
