"""The README and the docs/ pages: every link, repository path and posenc command they name exists."""

import argparse
import re

import pytest

from posenc.cli import get_args_parser
from tests.helpers import ROOT

PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
# a path of this repository as the docs write it in backticks (placeholders and globs left out)
REPO_PATH = re.compile(r"`((?:posenc|workflow|config|bench|profiles|tests|docs|\.ci|\.test)/[\w./-]+)`")
COMMAND = re.compile(r"`posenc ([a-z][a-z-]+)")


def _subcommands() -> set[str]:
    parser = get_args_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_path_and_command_of_a_page_exists(page):
    text = page.read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        assert (page.parent / target).exists(), f"{page.name}: link to {target}"
    for path in REPO_PATH.findall(text):
        path = path.rstrip(".")
        assert (ROOT / path).exists() or (ROOT / path).with_suffix("").exists(), f"{page.name}: {path}"
    commands = _subcommands()
    for name in COMMAND.findall(text):
        assert name in commands, f"{page.name}: posenc {name} is no command"


def test_the_readme_is_a_front_page_and_every_docs_page_is_linked_from_it():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in readme, f"the README does not lead to {page.name}"
