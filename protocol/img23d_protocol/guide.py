"""Where the guide lives: the one address the add-on's Help buttons, its manifest's ``website``,
``mkdocs.yml``'s ``site_url`` and the licence table point at (tests/wire/test_guide_links.py
checks that they agree)."""

GUIDE_URL = "https://img23d.github.io/img23d/"


def guide_page(page: str, anchor: str = "") -> str:
    """The address of one page of the guide (its name under docs/ without ``.md``)."""
    return f"{GUIDE_URL}{page}/" + (f"#{anchor}" if anchor else "")
