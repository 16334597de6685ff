"""Targets files, the fit table, `abm check` and `abm calibrate` (real Optuna storage, real runs)."""

from __future__ import annotations

from pathlib import Path

import optuna
import polars as pl
import pytest

from abm.calibration.calibrate import calibrate
from abm.calibration.fit import experiment, fit_table, loss, passes, run_experiments
from abm.calibration.statistics import STATISTICS, client_shares
from abm.calibration.targets import load_targets
from abm.cli import main
from abm.config import load_config
from abm.errors import ConfigError, UserError

BASE = """
[run]
weeks = 52
burn_in_weeks = 26
seed = 7
[municipalities]
count = 3
population_scale = 0.05
"""

TRUE_INFLOW = 1.4


def targets_file(folder: Path, body: str, name: str = "targets.toml", header: str = "") -> Path:
    (folder / "base.toml").write_text(BASE)
    path = folder / name
    path.write_text(f'name = "tiny"\nbase = "base.toml"\nreplications = 2\n{header}\n{body}')
    return path


def client_share_target(value: float = 0.05, se: float = 0.003) -> str:
    return f'[[targets]]\nname = "clients"\nstatistic = "client_share"\nvalue = {value}\nse = {se}\n'


def test_calibration_recovers_a_known_truth(tmp_path):
    """Targets made by the model at a known inflow are fitted back, within tolerance and near the truth."""
    probe = load_targets(targets_file(tmp_path, client_share_target()))
    config = probe.base_config().with_overrides({"labour_market.inflow_per_1000": TRUE_INFLOW})
    truth = sum(run_experiments([experiment(probe, config)], 2)[0]["clients"]) / 2
    path = targets_file(tmp_path, client_share_target(truth, 0.04 * truth), name="truth.toml",
                        header='[parameters]\n"labour_market.inflow_per_1000" = [0.5, 2.5]\n'
                               '[set]\n"run.weeks" = 52\n"trust.social_rate" = 0.05\n')
    result = calibrate(path, ["labour_market.inflow_per_1000"], trials=14, out=tmp_path / "out")
    assert result.fit["within"].all()
    assert abs(result.best_params["labour_market.inflow_per_1000"] - TRUE_INFLOW) / TRUE_INFLOW < 0.15
    layer = load_config(tmp_path / "out" / "best.toml")
    assert layer.labour_market.inflow_per_1000 == result.best_params["labour_market.inflow_per_1000"]
    assert layer.municipalities.count == 3  # it extends the base
    assert layer.trust.social_rate == 0.05  # a model setting of the targets' [set] comes along
    assert '#   run.weeks = 52' in (tmp_path / "out" / "best.toml").read_text()  # the size does not
    assert "calibrated: " in (tmp_path / "out" / "best.toml").read_text()
    trials = pl.read_parquet(tmp_path / "out" / "trials.parquet")
    assert trials.height == 14 and (trials["state"] == "COMPLETE").all()
    for name in ("fit.txt", "fit.parquet", "accepted.parquet", "report.html", "plots/targets_vs_model.png", "plots/parameter_traces.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_resume_continues_the_stored_study_and_refuses_another(tmp_path):
    path = targets_file(tmp_path, client_share_target())
    out = tmp_path / "out"
    first = calibrate(path, ["labour_market.inflow_per_1000"], trials=2, out=out)
    with pytest.raises(UserError, match="--resume"):
        calibrate(path, ["labour_market.inflow_per_1000"], trials=3, out=out)
    resumed = calibrate(path, ["labour_market.inflow_per_1000"], trials=3, out=out, resume=True)
    assert resumed.trials.height == 3
    assert resumed.trials.head(2)["labour_market.inflow_per_1000"].to_list() == first.trials["labour_market.inflow_per_1000"].to_list()
    study = optuna.load_study(study_name="calibration", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 3
    path.write_text(path.read_text().replace("value = 0.05", "value = 0.06"))
    with pytest.raises(UserError, match="targets_sha256"):
        calibrate(path, ["labour_market.inflow_per_1000"], trials=4, out=out, resume=True)
    with pytest.raises(UserError, match="bounds"):
        calibrate(targets_file(tmp_path, client_share_target()), ["progress.self_help_share"], trials=4, out=out, resume=True)


@pytest.mark.parametrize("header, body, message", [
    ("", '[[targets]]\nname = "x"\nstatistic = "median_income"\nvalue = 1\nse = 1\n',
     r"targets.toml: targets 'x': statistic = 'median_income' is not allowed: expected one of cohort_days_first_year"),
    ('[parameters]\n"progress.no_such" = [0, 1]\n', client_share_target(),
     r"targets.toml: parameters: unknown key 'progress.no_such'"),
    ('[parameters]\n"progress.self_help_share" = [0.5, 1.5]\n', client_share_target(),
     r"parameters.progress.self_help_share = \[0.5, 1.5\] is not allowed: outside the schema's range \(a number >= 0 and <= 1\)"),
    ('[parameters]\n"progress.self_help_share" = [0.8, 0.2]\n', client_share_target(),
     r"parameters.progress.self_help_share = \[0.8, 0.2\] is not allowed: low must be below high"),
    ("targets = []\n", "", r"targets.toml: targets = \[\] is not allowed: expected a non-empty list"),
    ("", "", r"targets.toml: targets = None is not allowed: expected a non-empty list"),
    ("", '[[targets]]\nname = "x"\nstatistic = "client_share"\nvalue = 1\nse = 1\n[targets.set]\n"council.initial_caseload" = -5\n',
     r"targets 'x': council.initial_caseload = -5 is not allowed"),
    ("", '[[targets]]\nname = "x"\nstatistic = "days_saved_first_year"\nvalue = 1\nse = 1\n',
     r"targets 'x': statistic 'days_saved_first_year' compares two arms: give \[targets.control\] and \[targets.treatment\]"),
    ("", '[[targets]]\nname = "x"\nstatistic = "client_share"\nvalue = 1\nse = 0\n', r"targets 'x': se = 0 is not allowed: expected a positive number"),
    ("", '[[targets]]\nname = "x"\nstatistic = "trial_stock_unemployment_days"\nvalue = -35\nse = 6\n',
     r"targets 'x': statistic = 'trial_stock_unemployment_days' needs an in-office trial: set council.trial_weeks > 0"),
    ("", '[[targets]]\nname = "x"\nstatistic = "trial_entrants_employment_days"\nvalue = 24\nse = 6\n[targets.set]\n"council.trial_weeks" = 10\n',
     r"targets 'x': statistic = 'trial_entrants_employment_days' follows every client 104 weeks from assignment: run.weeks = 52 must be at least 113"),
    ("", '[[targets]]\nname = "x"\nstatistic = "trial_entrants_employment_days"\nvalue = 24\nse = 6\n[targets.set]\n"council.trial_weeks" = 1\n'
         '"council.trial_clients" = "stock"\n"run.weeks" = 110\n',
     r"needs a trial that randomises the entrants: council.trial_clients = 'stock', allowed: 'both' or 'entrants'"),
])
def test_bad_targets_files_give_one_clear_line(tmp_path, capsys, header, body, message):
    path = targets_file(tmp_path, body, header=header)
    with pytest.raises(ConfigError, match=message):
        load_targets(path)
    assert main(["check", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error and str(path) in error


def test_a_parameter_without_a_range_cannot_be_calibrated(tmp_path):
    path = targets_file(tmp_path, client_share_target())
    with pytest.raises(ConfigError, match="council.strategy cannot be calibrated"):
        calibrate(path, ["council.strategy"], trials=1, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written before the inputs are checked


def test_check_exits_1_when_a_target_is_missed_and_0_when_met(tmp_path, capsys):
    far = targets_file(tmp_path, client_share_target(0.5, 0.001), name="far.toml")
    assert main(["check", str(far)]) == 1
    assert "NO" in capsys.readouterr().out
    values = run_experiments([experiment(load_targets(far), load_targets(far).base_config())], 2)[0]["clients"]
    near = targets_file(tmp_path, client_share_target(round(sum(values) / 2, 6), 0.01), name="near.toml")
    assert main(["check", str(near)]) == 0


def test_fit_table_z_uses_both_uncertainties(tmp_path):
    targets = load_targets(targets_file(tmp_path, client_share_target(0.05, 0.003)))
    table = fit_table(targets, {"clients": [0.04, 0.044]})
    model_se = pl.Series([0.04, 0.044]).std() / 2**0.5
    assert table["z"][0] == pytest.approx((0.042 - 0.05) / (0.003**2 + model_se**2) ** 0.5)
    assert not table["within"][0]


def test_held_out_targets_are_checked_but_not_fitted_and_reported_ones_neither(tmp_path):
    body = client_share_target(0.05, 0.003) + "".join(
        f'[[targets]]\nname = "{role}"\nstatistic = "client_share"\nvalue = 0.05\nse = 0.003\nrole = "{role}"\n' for role in ("test", "report"))
    targets = load_targets(targets_file(tmp_path, body))
    table = fit_table(targets, {"clients": [0.05, 0.05], "test": [0.5, 0.5], "report": [0.5, 0.5]})
    assert loss(table) == 0.0  # only the fitted target counts, and it is met
    assert not passes(table)  # the held-out one is missed
    assert passes(fit_table(targets, {"clients": [0.05, 0.05], "test": [0.05, 0.05], "report": [0.5, 0.5]}))  # the reported miss does not count
    with pytest.raises(ConfigError, match=r"targets 'x': role = 'loss' is not allowed: expected one of fit, test, report"):
        load_targets(targets_file(tmp_path, '[[targets]]\nname = "x"\nstatistic = "client_share"\nvalue = 1\nse = 1\nrole = "loss"\n', name="bad.toml"))


def test_shipped_targets_load():
    targets = load_targets(Path(__file__).parent.parent / "targets" / "denmark.toml")
    assert {t.statistic for t in targets.targets} >= {"days_saved_first_year", "payback_months", "turnover_annual",
                                                      "client_share_job_ready", "client_share_activity_ready"}
    assert all(t.source for t in targets.targets)
    assert all("se: assumed" in t.note or "se: published" in t.note for t in targets.targets)  # every se says which it is
    assert {t.name for t in targets.targets if t.role == "report"} == {"caseload_150_to_70_payback_months"}
    austria = load_targets(Path(__file__).parent.parent / "targets" / "austria.toml")
    assert {t.statistic for t in austria.targets} == {f"trial_{sample}_{outcome}_days" for sample in ("entrants", "stock")
                                                      for outcome in ("employment", "unemployment", "out_of_labour_force", "duration")}
    assert all(t.source and "se: published" in t.note for t in austria.targets)
    protocol = load_targets(Path(__file__).parent.parent / "targets" / "experiments.toml")
    held_out = {t.name for t in protocol.targets if t.role == "test"}
    assert "caseload_150_to_70_days_saved" in held_out and any(name.startswith("austria_stock") for name in held_out)
    assert {t.role for t in protocol.targets} == {"fit", "test"}


def test_client_shares_by_group_weigh_each_municipality_by_its_inhabitants():
    """Group shares are summed clients over summed inhabitants (a national count), not a mean of
    the municipalities' shares: here 180 / 2000 job-ready, where the mean of shares would be 0.14."""
    weekly = pl.DataFrame({
        "week": [0, 0, 1, 1], "municipality": [0, 1, 0, 1], "inhabitants": [100, 900, 100, 900],
        "clients_job_ready": [20, 70, 20, 70], "clients_activity_ready": [5, 30, 5, 30], "clients_resource": [1, 9, 1, 9],
    }).with_columns(clients=pl.sum_horizontal("clients_job_ready", "clients_activity_ready", "clients_resource"))
    shares = client_shares(weekly)
    assert shares == pytest.approx({"client_share": 270 / 2000, "client_share_job_ready": 180 / 2000,
                                    "client_share_activity_ready": 70 / 2000, "client_share_resource": 20 / 2000})
    assert set(shares) <= set(STATISTICS)  # each can be named by a target


def test_a_trial_that_raises_is_recorded_and_the_calibration_goes_on(tmp_path, monkeypatch):
    """Fault injection: runs with a high inflow raise; their trials are stored as failed with the error."""
    from abm.calibration import fit

    real = fit.measure_run

    def fragile(config, seed):
        if config.labour_market.inflow_per_1000 > 1.5:
            raise RuntimeError("injected failure")
        return real(config, seed)

    monkeypatch.setattr(fit, "measure_run", fragile)
    path = targets_file(tmp_path, client_share_target(), header='[parameters]\n"labour_market.inflow_per_1000" = [0.5, 2.5]\n')
    result = calibrate(path, ["labour_market.inflow_per_1000"], trials=8, out=tmp_path / "out")
    failed = result.trials.filter(pl.col("state") == "FAIL")
    assert failed.height > 0 and result.trials.height == 8
    assert all("injected failure" in error for error in failed["error"])
    assert (failed["labour_market.inflow_per_1000"] > 1.5).all()
    assert result.best_params["labour_market.inflow_per_1000"] <= 1.5


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # starts Ray: one at a time under pytest-xdist
def test_trials_on_ray_equal_the_serial_ones(tmp_path):
    """Same seed, same trials and losses, whether the runs go to an embedded Ray or run here."""
    path = targets_file(tmp_path, client_share_target())
    serial = calibrate(path, ["labour_market.inflow_per_1000"], trials=4, out=tmp_path / "serial")
    on_ray = calibrate(path, ["labour_market.inflow_per_1000"], trials=4, workers=2, out=tmp_path / "ray")
    columns = ["trial", "labour_market.inflow_per_1000", "loss", "clients__model"]
    assert on_ray.trials.select(columns).equals(serial.trials.select(columns))


@pytest.mark.slow
def test_the_shipped_default_meets_the_danish_targets(capsys):
    """`abm check targets/denmark.toml` on configs/baseline.toml: every target within |z| <= 2.

    Not the seed's: `abm check targets/denmark.toml --seed S` for the seed sets S = 0-9 met
    every target but one, once: the German offices' days saved (150 -> 70 cases) came to z
    -2.00 on seed set 2, at the edge where the Austrian trial's flatter casework curve puts
    them (docs/VALIDATION.md lists the range and the worst z per target across them).
    """
    assert main(["check", str(Path(__file__).parent.parent / "targets" / "denmark.toml")]) == 0, capsys.readouterr().out
