"""(1.19) Views on the wire: a Generate request's pictures of a name from its sides, a Re-texture
request's of its mesh, checked on arrival; the sides' one convention (``views.py``)."""

from __future__ import annotations

import json

import pytest

from img23d_protocol import (SIDE_AZIMUTH_DEGREES, SIDES, ErrorCode, GenerateRequest, ProtocolError, RetextureRequest,
                             camera_direction, check_views, decode, views_for)
from img23d_protocol.codec import REQUEST_TYPES


def _line(kind: str, **fields: object) -> str:
    return json.dumps({"v": 1, "type": kind, "id": "r1", "image": "/p/front.png", **fields})


def test_generate_views_round_trip_and_an_older_request_has_none() -> None:
    request = GenerateRequest(id="r1", image="/p/front.png", targets=["chair"],
                              views={"chair": {"back": "/p/back.png", "left": "/p/left.png"}})
    decoded = decode(request.to_line(), REQUEST_TYPES)
    assert isinstance(decoded, GenerateRequest) and decoded.views == request.views
    assert views_for(decoded.views, "CHAIR") == {"left": "/p/left.png", "back": "/p/back.png"}  # SIDES order
    assert decode(_line("generate", targets=["chair"]), REQUEST_TYPES).views == {}


def test_retexture_views_round_trip() -> None:
    decoded = decode(_line("retexture", mesh="/p/m.npz", views={"Back": "/p/b.png"}), REQUEST_TYPES)
    assert isinstance(decoded, RetextureRequest) and decoded.views == {"back": "/p/b.png"}


@pytest.mark.parametrize(("views", "words"), [
    ({"chair": {"top": "/p/t.png"}}, "names the side 'top': sides are left, back, right"),
    ({"chair": {"front": "/p/f.png"}}, "the front is the job's own picture"),
    ({"chair": {"back": ""}}, "must be a picture's path"),
    ({"chair": {"back": 3}}, "must be a picture's path"),
    ({"chair": ["/p/b.png"]}, "must be an object of side: picture"),
    ({"chair": {"back": "/a"}, "Chair": {"left": "/b"}}, "given twice"),
    (["chair"], "views must be an object"),
    ({"": {"back": "/p/b.png"}}, "need the name"),
])
def test_wrong_generate_views_are_one_sentence(views: object, words: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        decode(_line("generate", targets=["chair"], views=views), REQUEST_TYPES)
    assert raised.value.code is ErrorCode.BAD_REQUEST and words in str(raised.value)


def test_views_of_a_name_not_in_the_job_are_refused_by_name() -> None:
    with pytest.raises(ProtocolError, match="views of 'lamp', which is not one of the names"):
        check_views({"lamp": {"back": "/p/b.png"}}, ["chair"])
    check_views({"Chair": {"back": "/p/b.png"}}, ["chair"])


def test_the_sides_cameras_stand_around_the_object_as_the_module_says() -> None:
    assert SIDES == ("left", "back", "right") and SIDE_AZIMUTH_DEGREES["front"] == 0.0
    assert camera_direction("front") == (0.0, -1.0, 0.0)  # Blender's front camera at -Y
    assert camera_direction("left") == (1.0, 0.0, 0.0)    # the object's own left, which faces -Y, is +X
    assert camera_direction("back") == (0.0, 1.0, 0.0)
    assert camera_direction("right") == (-1.0, 0.0, 0.0)
