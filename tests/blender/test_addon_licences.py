"""Licences in real Blender: shown beside each model, asked once before a restricted download.

The model list draws each model's licence, its restrictions and a link to it; Download of a
model under a restricted licence (Hunyuan3D-2's) sends nothing until the licence is accepted
(the dialog's confirmation, ``accept_licence``), then remembers it in the preferences and sends
it with the download and with every job.
"""

from __future__ import annotations

from importlib import import_module

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, recording_submit  # noqa: E402
from test_installer import _draw_preferences, _labels, _operators, _prefs  # noqa: E402

TENCENT = "tencent-hunyuan-3d-2.0-community"
SHAPE_ID = "tencent/Hunyuan3D-2mini/hunyuan3d-dit-v2-mini-turbo@f90a0f7df7"
SHAPE_REVISION = "f90a0f7df7d5e6f71109cf333f6a95a0ae3194a6"


@pytest.fixture
def catalog(addon):
    """A model list with a restricted model (Hunyuan3D-2mini) and a permissive one (Qwen3-VL)."""
    protocol = import_module(f"{ADDON_MODULE}.job_runner").protocol
    catalog = addon.model_catalog.ModelCatalog()
    catalog.update({"models": [
        protocol.ModelEntry(id="Qwen/Qwen3-VL-2B-Instruct@89644892e4", role="grounding",
                            repo_id="Qwen/Qwen3-VL-2B-Instruct", revision="89644892e4d85e24eaac8bacfd4f463576704203",
                            size_bytes=4 << 30).to_dict(),
        protocol.ModelEntry(id=SHAPE_ID, role="shape", repo_id="tencent/Hunyuan3D-2mini", revision=SHAPE_REVISION,
                            subfolder="hunyuan3d-dit-v2-mini-turbo", size_bytes=4 << 30).to_dict(),
    ], "offline": False, "cache_dir": "/cache/hub"}, _prefs().model_configuration())
    addon.runtime.catalog = catalog
    _prefs().accepted_licences = ""
    yield catalog
    addon.runtime.catalog = addon.model_catalog.ModelCatalog()
    _prefs().accepted_licences = ""


def test_each_model_shows_its_licence_and_restrictions(addon, catalog) -> None:
    labels = " | ".join(_labels(_draw_preferences(addon)))
    assert "Licence: Apache License 2.0" in labels
    assert "Licence: Tencent Hunyuan 3D 2.0 Community License" in labels
    assert "Not licensed in the European Union, the United Kingdom and South Korea" in labels
    assert "Over 1,000,000 monthly active users needs a licence from the licensor" in labels
    assert _operators(_draw_preferences(addon)).count("wm.url_open") == 2  # a link beside each
    consent = import_module(f"{ADDON_MODULE}.licence_consent")
    assert consent.of_entry(catalog.entry(SHAPE_ID)).url(SHAPE_REVISION) == \
        f"https://huggingface.co/tencent/Hunyuan3D-2mini/blob/{SHAPE_REVISION}/README.md"


def test_a_restricted_download_without_consent_sends_nothing(addon, catalog, monkeypatch) -> None:
    sent = recording_submit(addon, monkeypatch)
    with pytest.raises(RuntimeError, match="was not downloaded: its licence .Tencent Hunyuan 3D 2.0 Community"):
        bpy.ops.img23d.model_download(model=SHAPE_ID)
    assert sent == [] and _prefs().accepted_licences == "" and not catalog.busy


def test_accepting_is_remembered_and_sent_with_the_download_and_every_job(addon, catalog, monkeypatch) -> None:
    sent = recording_submit(addon, monkeypatch)
    # The tiny backend has no such model: it answers bad_request, after the request went out.
    with pytest.raises(RuntimeError, match="is not one of the configured models"):
        bpy.ops.img23d.model_download(model=SHAPE_ID, accept_licence=True)
    [request] = sent
    assert request.model == SHAPE_ID and request.accepted_licences == [TENCENT]
    assert _prefs().accepted_licence_keys() == [TENCENT]
    # Asked once: the next download needs no confirmation.
    with pytest.raises(RuntimeError, match="is not one of the configured models"):
        bpy.ops.img23d.model_download(model=SHAPE_ID)
    assert len(sent) == 2 and sent[1].accepted_licences == [TENCENT]
    # Every job carries it, so the backend may download the model a job needs.
    inputs = import_module(f"{ADDON_MODULE}.operators._inputs")
    assert inputs.options(bpy.context).accepted_licences == [TENCENT]
    labels = " | ".join(_labels(_draw_preferences(addon)))
    assert "Accepted: Tencent Hunyuan 3D 2.0 Community License" in labels
    assert bpy.ops.img23d.licence_withdraw(key=TENCENT) == {"FINISHED"}
    assert _prefs().accepted_licence_keys() == [] and inputs.options(bpy.context).accepted_licences == []


def test_a_permissive_model_downloads_without_asking(addon, catalog, monkeypatch) -> None:
    sent = recording_submit(addon, monkeypatch)
    with pytest.raises(RuntimeError, match="is not one of the configured models"):
        bpy.ops.img23d.model_download(model="Qwen/Qwen3-VL-2B-Instruct@89644892e4")
    assert [r.accepted_licences for r in sent] == [[]] and _prefs().accepted_licences == ""
