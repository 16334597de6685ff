"""The README's front door stays true: its test command is the one CI runs, its links lead
into the repository, and the licence and citation match the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert "abm compare" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_readme_commands_and_configs_exist():
    text = (ROOT / "README.md").read_text()
    for config in ("baseline", "compare", "overloaded", "denmark"):
        assert f"configs/{config}.toml" in text and (ROOT / "configs" / f"{config}.toml").is_file()


def test_links_in_the_docs_stay_inside_the_repository():
    """Every relative link of the README and docs/ points to a file of this repository."""
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            path = (document.parent / target).resolve()
            assert path.is_relative_to(ROOT) and path.exists(), f"{document.name} links {target}, not a file of the repository"


def test_license_and_citation_agree_with_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf'^version: "{re.escape(project["version"])}"$', citation, re.MULTILINE)
    assert project["license"]["text"] == "MIT"
    assert re.search(r"^license: MIT$", citation, re.MULTILINE)
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
