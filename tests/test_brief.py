"""``abm brief``: one self-contained page for one municipality, at its real size among its peers.

Two municipalities of very different size (Læsø, about 1,800 inhabitants; Høje-Taastrup,
about 57,000), each with one peer, half a year, two replications: real runs, serial."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import polars as pl
import pytest

from abm.brief import Request, nearest_peers
from abm.cli import build_parser, main
from abm.denmark import municipalities

REPO = Path(__file__).resolve().parents[1]
SHORT = ["--weeks", "26", "--replications", "2", "--peers", "1", "--set", "run.burn_in_weeks=4", "--workers", "1"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Læsø", "Høje-Taastrup"])
def test_a_brief_for_a_small_and_a_large_municipality(tmp_path, capsys, name):
    out = tmp_path / "brief"
    assert main(["brief", name, *SHORT, "--no-posterior", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    page = (out / "brief.html").read_text(encoding="utf-8")
    # self-contained: every image embedded, nothing fetched
    assert page.count('src="data:image/png;base64,') == 2 and not re.search(r'(src|href)="(?!data:)', page)
    population = municipalities().filter(pl.col("name") == name)["population"][0]
    runs = pl.read_parquet(out / "runs.parquet")
    assert (runs["inhabitants"] == population).all()  # its real size, its own outcomes (not its peer's)
    assert f"{population:,} inhabitants" in page and nearest_peers(municipalities(), name, 1)[0] in page
    for heading in ("The question", "The answer", "Payback", "Trust, turnover and protests",
                    "The assumptions that matter most", "How to reproduce it"):
        assert f"<h2>{heading}</h2>" in page, heading
    assert "Scenario results resting on assumed parameters" in page
    assert "progress.quality_elasticity" in page and "plausible range" in page
    assert "Not assessed: no calibration posterior" in page
    sentence = re.search(r'<p class="answer">(.*?)</p>', page, re.S).group(1)
    assert sentence.startswith("Over 0.5 years") and name in sentence and sentence in printed
    # the command on the page redoes this brief
    command = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1).replace("&#34;", '"').replace("&#39;", "'")
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert (args.target, args.weeks, args.replications, args.peers, args.no_posterior, args.overrides) == (
        name, 26, 2, 1, True, ["run.burn_in_weeks=4"])


@pytest.mark.slow
def test_a_brief_carries_the_calibration_s_uncertainty(tmp_path):
    out = tmp_path / "brief"
    posterior = REPO / "targets" / "experiments-posterior.parquet"
    assert main(["brief", "Læsø", *SHORT, "--posterior", str(posterior), "--draws", "2", "--out", str(out)]) == 0
    page = (out / "brief.html").read_text(encoding="utf-8")
    assert "rerun at 2 parameter vectors drawn by weight from the calibration" in page
    differences = pl.read_parquet(out / "posterior.parquet")
    assert differences["point"].n_unique() == 2
    assert f"--posterior {posterior} --draws 2" in page


def test_a_folder_that_holds_results_is_refused_before_anything_runs(tmp_path, capsys):
    kept = tmp_path / "earlier" / "comparison.txt"
    kept.parent.mkdir()
    kept.write_text("an earlier result\n")
    assert main(["brief", "Læsø", *SHORT, "--no-posterior", "--out", str(kept.parent)]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds results already" in err and "--out" in err and "--overwrite" not in err and len(err.splitlines()) == 1
    assert kept.read_text() == "an earlier result\n" and len(list(kept.parent.iterdir())) == 1


@pytest.mark.parametrize("argv, message", [
    (["Hoje Tastrup"], "unknown municipality 'Hoje Tastrup'; nearest: 'Høje-Taastrup'"),
    (["Læsø", "--weeks", "0"], "--weeks 0: expected a whole number >= 1"),
    (["Læsø", "--posterior", "nowhere.parquet"], "nowhere.parquet: no such file"),
])
def test_bad_input_gets_one_line(tmp_path, capsys, argv, message):
    assert main(["brief", *argv, "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_peers_are_the_nearest_in_size():
    table = municipalities()
    peers = nearest_peers(table, "Høje-Taastrup", 3)
    own = table.filter(pl.col("name") == "Høje-Taastrup")["population"][0]
    gaps = sorted(abs(p - own) / own for p in table.filter(pl.col("name") != "Høje-Taastrup")["population"])
    assert len(peers) == 3 and "Høje-Taastrup" not in peers
    assert all(abs(p - own) / own <= gaps[5] for p in table.filter(pl.col("name").is_in(peers))["population"])
    assert Request("Læsø", posterior=None).command().endswith("--no-posterior")


@pytest.mark.slow
def test_a_config_briefs_its_first_municipality(tmp_path):
    config = tmp_path / "two.toml"
    config.write_text(f'extends = "{REPO / "configs" / "baseline.toml"}"\n[municipalities]\npreset = "denmark"\n'
                      'names = ["Fanø", "Læsø"]\npopulation_scale = 1.0\n', encoding="utf-8")
    out = tmp_path / "brief"
    argv = ["brief", str(config), "--weeks", "26", "--replications", "2", "--set", "run.burn_in_weeks=4", "--workers", "1",
            "--no-posterior", "--out", str(out)]
    assert main(argv) == 0
    page = (out / "brief.html").read_text(encoding="utf-8")
    assert "<h1>Fanø: which strategy" in page and "(Læsø)" in page
    fano = municipalities().filter(pl.col("name") == "Fanø")["population"][0]
    assert (pl.read_parquet(out / "runs.parquet")["inhabitants"] == fano).all()
