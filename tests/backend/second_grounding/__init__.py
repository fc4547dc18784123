"""Colour Words, a test-only second grounding model: a name that holds a colour word ("red block") is found where
the picture is that colour. Its folder is what a real second grounding model's is (``grounding/<model>/``:
``model.py`` with its rows, ``grounder.py`` with its code and replica); tests/backend/grounding/
test_role_grounding_second.py registers it."""
