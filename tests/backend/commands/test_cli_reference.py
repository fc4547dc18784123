"""The guide's command-line page (docs/cli.md) says what ``--help`` says: every subcommand has a
section (``## `generate` ``, ``## `models download` ``), every option of it appears there (or in
the page's "Common options" section, when the command's section links to it), and a section names
no option its command lacks.

A new subcommand or option fails this test until the page documents it: add a ``## `name` ``
section (with a table of its options, or a link to ``#common-options`` for the shared ones).
"""

from __future__ import annotations

import argparse
import re

from testdata import REPO

from img23d_backend.commands.cli import build_parser

PAGE = REPO / "docs" / "cli.md"
COMMON = "Common options"
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
ALWAYS = {"-h", "--help"}


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every subcommand, nested ones as ``"models download"``."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                found[full] = sub
                found.update(commands(sub, full + " "))
    return found


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings} - ALWAYS


def sections(text: str) -> dict[str, str]:
    """The page's level-2 sections by title (a command's title is in backticks)."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip().strip("`"): body for title, body in zip(parts[1::2], parts[2::2])}


def _documented(flag: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def test_every_subcommand_has_a_section_and_every_option_is_documented() -> None:
    page = sections(PAGE.read_text(encoding="utf-8"))
    missing = []
    for name, parser in commands(build_parser()).items():
        if name not in page:
            missing.append(f"no section '## `{name}`'")
            continue
        text = page[name] + (page.get(COMMON, "") if "#common-options" in page[name] else "")
        missing += [f"'{name}': {flag} is not documented" for flag in sorted(options(parser))
                    if not _documented(flag, text)]
    assert not missing, f"{PAGE.relative_to(REPO)} lags behind --help:\n" + "\n".join(missing)


def test_the_page_documents_no_option_its_command_lacks() -> None:
    page = sections(PAGE.read_text(encoding="utf-8"))
    known = commands(build_parser())
    stale = []
    for title, body in page.items():
        if title in known:
            stale += [f"'{title}': {flag}" for flag in sorted(set(OPTION.findall(body)) - options(known[title]) - ALWAYS)]
    common = {flag for name in ("generate", "detect", "serve") for flag in options(known[name])}
    stale += [f"'{COMMON}': {flag}" for flag in sorted(set(OPTION.findall(page[COMMON])) - common - ALWAYS)]
    assert not stale, "documented options that --help does not have:\n" + "\n".join(stale)


def test_the_check_sees_an_option_added_without_documentation() -> None:
    parser = build_parser()
    generate = commands(parser)["generate"]
    generate.add_argument("--an-option-nobody-documented", action="store_true")
    text = sections(PAGE.read_text(encoding="utf-8"))["generate"]
    assert not _documented("--an-option-nobody-documented", text)
    assert _documented("--face-budget", text) and not _documented("--face", text)
