"""The README's front door stays true: its test command is the one CI runs, its links lead
into the repository, every page of docs/ is in its index, its examples and the tutorial run
as written, and the licence and citation match the package."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import polars as pl
import pytest

from abm import strategies

ROOT = Path(__file__).resolve().parent.parent
FILE_MARK = "# file: "


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


def test_every_docs_page_is_in_the_readmes_index():
    """The README's Documentation table is the index of docs/: a new page gets a row there."""
    index = (ROOT / "README.md").read_text().split("## Documentation", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\]\(docs/([^)#]+\.md)\)", index))
    assert listed == {page.name for page in (ROOT / "docs").glob("*.md")}


def code_blocks(document: Path) -> list[tuple[str, str]]:
    """The fenced code blocks of a Markdown file, as (language, code), in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```", document.read_text(), re.MULTILINE | re.DOTALL)


def run_python_blocks(document: Path, folder: Path, monkeypatch) -> None:
    """Run a document's Python blocks in order, in one namespace, in ``folder`` (which sees the
    repository's configs/), as a reader would paste them into one session. A block whose first
    line is ``# file: NAME`` is saved as NAME instead, as the reader is told to."""
    (folder / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    namespace: dict = {"__name__": "__main__"}
    for number, (language, code) in enumerate(code_blocks(document), 1):
        if code.startswith(FILE_MARK):
            (folder / code.splitlines()[0].removeprefix(FILE_MARK).strip()).write_text(code)
        elif language == "python":
            exec(compile(code, f"{document.name}, code block {number}", "exec"), namespace)


@pytest.fixture
def forget_user_strategies(tmp_path):
    """Strategies a document registers, and the modules it saved and imported, are gone afterwards."""
    before = set(strategies.names())
    yield
    for name in set(strategies.names()) - before:
        strategies.unregister(name)
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_the_tutorial_runs_as_written_and_makes_the_figures_it_shows(tmp_path, monkeypatch, forget_user_strategies):
    tutorial = ROOT / "docs" / "tutorial.md"
    run_python_blocks(tutorial, tmp_path, monkeypatch)
    sweep = tmp_path / "results" / "halfway"
    for made in ("summary.parquet", "table.txt", "plots/curves.png", "plots/curves.svg"):
        assert (sweep / made).is_file(), f"the tutorial's sweep did not write {made}"
    summary = pl.read_parquet(sweep / "summary.parquet")
    assert summary.height == 18 and set(summary["strategy"]) == {"status_quo", "invest", "invest_halfway"}
    shown = re.findall(r"!\[[^]]*\]\((img/[^)]+)\)", tutorial.read_text())
    assert shown and all((ROOT / "docs" / image).is_file() for image in shown)


@pytest.mark.slow
@pytest.mark.parametrize("document", ["README.md", "docs/python.md"])
def test_the_python_and_mesa_examples_run(document, tmp_path, monkeypatch):
    run_python_blocks(ROOT / document, tmp_path, monkeypatch)
