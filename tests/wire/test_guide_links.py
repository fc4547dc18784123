"""The guide is on the artist's disk, not at an address: no link anywhere names a site that is not
published; every place the add-on's Help opens from has a page in docs/; the front page's links lead
to files of the repository."""

from __future__ import annotations

import re
import tomllib

from testdata import REPO

# The address the guide once claimed and never had; nothing may point there again.
UNPUBLISHED = "img23d.github.io"
TEXT_SUFFIXES = (".py", ".md", ".toml", ".yml", ".sh", ".txt")


def test_no_file_names_the_unpublished_address() -> None:
    named = [str(path.relative_to(REPO)) for folder in ("blender_img23d", "backend", "protocol", "docs", "scripts",
                                                        "bench", "examples")
             for path in (REPO / folder).rglob("*") if path.suffix in TEXT_SUFFIXES and path.is_file()
             and UNPUBLISHED in path.read_text(encoding="utf-8", errors="replace")]
    named += [name for name in ("README.md", "mkdocs.yml", "build_addon.py", "addon_zip.py")
              if UNPUBLISHED in (REPO / name).read_text(encoding="utf-8")]
    assert named == [], f"these name {UNPUBLISHED}, which is not published: {named}"


def test_the_manifest_and_mkdocs_name_no_site() -> None:
    manifest = tomllib.loads((REPO / "blender_img23d" / "blender_manifest.toml").read_text())
    assert "website" not in manifest
    text = (REPO / "mkdocs.yml").read_text()
    assert not re.search(r"^site_url:", text, re.M)
    assert re.search(r"^use_directory_urls:\s*false\s*$", text, re.M), "pages must be files (panel.html) to open from disk"


def test_every_help_place_has_a_page_and_its_heading_in_the_guide() -> None:
    # Read as text: the add-on's module imports its package, which needs bpy.
    source = (REPO / "blender_img23d" / "guide_pages.py").read_text(encoding="utf-8")
    pages = re.findall(r'"(\w+)": GuidePage\("([\w-]+)"(?:, "([\w-]+)")?\)', source)
    assert {place for place, _, _ in pages} >= {"IMG23D_PT_main", "preferences"}
    for place, page, anchor in pages:
        doc = REPO / "docs" / f"{page}.md"
        assert doc.is_file(), f"Help for {place} opens docs/{page}.md, which does not exist"
        if anchor:
            headings = [re.sub(r"[^\w\s-]", "", h).strip().lower().replace(" ", "-")
                        for h in re.findall(r"^#+ (.+)$", doc.read_text(encoding="utf-8"), re.M)]
            assert anchor in headings, f"docs/{page}.md has no heading for #{anchor}"


def test_the_front_page_is_short_and_its_links_lead_somewhere() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250, "README.md is the front page: at most 250 lines, the rest in docs/"
    targets = re.findall(r"\]\(((?:docs|bench|scripts)/[^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets and all((REPO / target).is_file() for target in targets), \
        [t for t in targets if not (REPO / t).is_file()]
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text  # the two commands


def test_the_licence_tables_name_every_offered_model_and_its_licence() -> None:
    from img23d_protocol import MODEL_LICENCES, NOT_OFFERED

    guide = (REPO / "docs" / "models.md").read_text(encoding="utf-8").split("## Licences", 1)[1]
    guide = guide.split("\n## ", 1)[0]
    for repo_id, entry in MODEL_LICENCES.items():
        if repo_id.startswith("tiny/"):
            continue
        row = next((line for line in guide.splitlines() if f"[{repo_id}]" in line), "")
        assert entry.licence.name in row, f"docs/models.md's licence table lacks {repo_id} ({entry.licence.name})"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # The front page's table names every model the project downloads, by its repository or its name
    # (issue 66 item 4: BiRefNet_HR, Hunyuan3D-2mv, Marigold, FLUX.2 [klein], Qwen-Image-Edit were missing).
    front = readme.split("## The models and their licences", 1)[1].split("\n## ", 1)[0]
    for repo_id in MODEL_LICENCES:
        if not repo_id.startswith("tiny/") and repo_id not in NOT_OFFERED:
            assert repo_id in front or repo_id.split("/")[-1] in front, f"README.md's licence table lacks {repo_id}"
    assert "Tencent Hunyuan 3D 2.0 Community License" in readme
    assert "not licensed in the European Union, the United Kingdom and South Korea" in readme
