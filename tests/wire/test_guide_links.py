"""One address for the guide: the protocol's GUIDE_URL, the add-on's manifest ``website`` and
mkdocs.yml's ``site_url`` agree, so Help, the extension page and the built site point at one place."""

from __future__ import annotations

import re
import tomllib

from testdata import REPO

from img23d_protocol import GUIDE_URL, guide_page


def test_the_manifest_website_is_the_guide() -> None:
    manifest = tomllib.loads((REPO / "blender_img23d" / "blender_manifest.toml").read_text())
    assert manifest["website"] == GUIDE_URL


def test_mkdocs_site_url_is_the_guide() -> None:
    text = (REPO / "mkdocs.yml").read_text()
    assert re.search(r"^site_url:\s*(\S+)\s*$", text, re.M).group(1) == GUIDE_URL


def test_guide_pages_are_pages_of_the_built_site() -> None:
    # MkDocs' default (use_directory_urls) serves docs/models.md at <site>/models/.
    assert guide_page("models", "licences") == GUIDE_URL + "models/#licences"
    assert (REPO / "docs" / "models.md").is_file()


def test_the_front_page_is_short_and_its_links_lead_somewhere() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250, "README.md is the front page: at most 250 lines, the rest in docs/"
    targets = re.findall(r"\]\(((?:docs|bench|scripts)/[^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets and all((REPO / target).is_file() for target in targets), \
        [t for t in targets if not (REPO / t).is_file()]
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text  # the two commands


def test_the_licence_tables_name_every_offered_model_and_its_licence() -> None:
    from img23d_protocol import MODEL_LICENCES

    guide = (REPO / "docs" / "models.md").read_text(encoding="utf-8").split("## Licences", 1)[1]
    guide = guide.split("\n## ", 1)[0]
    for repo_id, entry in MODEL_LICENCES.items():
        if repo_id.startswith("tiny/"):
            continue
        row = next((line for line in guide.splitlines() if f"[{repo_id}]" in line), "")
        assert entry.licence.name in row, f"docs/models.md's licence table lacks {repo_id} ({entry.licence.name})"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "Tencent Hunyuan 3D 2.0 Community License" in readme
    assert "not licensed in the European Union, the United Kingdom and South Korea" in readme
