"""Decision support on a finished sweep: when a condition holds, and which policy is robust.

``discover`` finds the boxes of uncertainties (and levers) where a condition on the
outcomes holds, with the EMA Workbench's PRIM (coverage, density, the quasi-p value of each
limit, the peeling trajectory) and its CART as a second view. ``robustness`` gives each
policy's outcome over the scenarios and its regret against the best policy in each
scenario. Both read ``manifest.json`` and ``summary.parquet`` of a sweep folder and write
only into their own output folder: the sweep's results are never modified.

A condition is a small expression over outcomes, parsed by :func:`parse_condition` (no
``eval``): ``invest.net_cost_mdkk < status_quo.net_cost_mdkk`` compares two strategies'
outcomes in the same design point and replication (common random numbers make the pair
fair); ``trust_mean >= 0.6`` needs a sweep of one strategy. Allowed: numbers, outcome
names, ``strategy.outcome``, ``+ - * /``, comparisons, ``and``, ``or``, ``not``.
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import warnings
from pathlib import Path

import numpy as np
import polars as pl
from tabulate import tabulate

from abm import strategies
from abm.errors import UserError, cut
from abm.output import check_output_folder
from abm.plots import save_figure  # also selects matplotlib's Agg backend
from abm.results import prepare_output_dir, write_parquet, write_text

import matplotlib.pyplot as plt  # noqa: E402  (after abm.plots chose the backend)

IDENTITY = ("run_id", "point", "replication", "strategy", "seed")
LONGEST_CONDITION = 2000
"""Characters a --when condition may have (a longer one is a mistake, and could nest deeply)."""
DENSITY = 0.8
"""The box chosen on PRIM's peeling trajectory: of those with at least this density, the one with
the largest coverage x density (both high: most of the runs where the condition holds, few others)."""


# -- the sweep -------------------------------------------------------------------------


def read_sweep(folder: str | Path) -> tuple[pl.DataFrame, dict]:
    """A finished sweep's summary and resolved experiment, or one clear line saying what is
    missing or damaged (a foreign or damaged folder is refused, never half read)."""
    folder = Path(folder)
    manifest, summary = folder / "manifest.json", folder / "summary.parquet"
    if not manifest.is_file() or not summary.is_file():
        raise UserError(f"{cut(str(folder))}: not a finished sweep results folder (needs manifest.json and summary.parquet; "
                        f"run `abm sweep EXPERIMENT --out {cut(str(folder))}` first)")
    try:
        resolved = json.loads(manifest.read_text(encoding="utf-8"))["resolved"]
        if not isinstance(resolved["parameters"], (list, dict)) or not all(isinstance(s, str) for s in resolved["strategies"]):
            raise TypeError
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, KeyError, TypeError):
        raise UserError(f"{cut(str(manifest))}: damaged or not a sweep's manifest (expected the JSON object abm sweep "
                        f"writes, with resolved parameters and strategies); run the sweep again into a new --out") from None
    try:
        table = pl.read_parquet(summary)
    except (pl.exceptions.PolarsError, OSError, ValueError):
        raise UserError(f"{cut(str(summary))}: damaged or not a Parquet file; rebuild it with "
                        f"`abm sweep EXPERIMENT --out {cut(str(folder))} --resume`") from None
    missing = [c for c in ("replication", "strategy", *resolved["parameters"]) if c not in table.columns]
    if missing:
        raise UserError(f"{cut(str(summary))}: not a sweep's summary (no column {cut(', '.join(missing))}); "
                        f"rebuild it with `abm sweep EXPERIMENT --out {cut(str(folder))} --resume`")
    return table, resolved


def outcome_names(summary: pl.DataFrame, resolved: dict) -> list[str]:
    """The summary's numeric columns that are results, not identity or design parameters."""
    skip = {*IDENTITY, *resolved["parameters"]}
    return [name for name, dtype in summary.schema.items() if name not in skip and dtype.is_numeric()]


def factors(resolved: dict) -> list[str]:
    """What PRIM and CART may restrict: the uncertainties and levers, else the design's parameters."""
    return [*resolved.get("uncertainties", []), *resolved.get("levers", [])] or list(resolved["parameters"])


def paired(summary: pl.DataFrame, resolved: dict, strategies: list[str], folder: Path) -> pl.DataFrame:
    """One row per design point and replication: the parameters, then ``strategy.outcome`` columns.

    Fails if a strategy lacks runs another has (a sweep not finished, or runs that failed)."""
    parameters = list(resolved["parameters"])
    outcomes = outcome_names(summary, resolved)
    keys = ["point", "replication"] if "point" in summary.columns else ["replication"]
    frames = []
    for strategy in strategies:
        own = summary.filter(pl.col("strategy") == strategy)
        if own.is_empty():
            raise UserError(f"{folder}: no finished runs of strategy {strategy!r} (strategies with runs: "
                            f"{', '.join(summary['strategy'].unique(maintain_order=True))}); run the sweep with it")
        columns = [pl.col(o).alias(f"{strategy}.{o}") for o in outcomes]
        frames.append(own.select(*keys, *(parameters if not frames else []), *columns))
    every = pl.concat([frame.select(keys) for frame in frames]).unique()
    for strategy, frame in zip(strategies, frames):
        missing = every.height - frame.select(keys).unique().height
        if missing:
            raise UserError(f"{folder}: {missing} design points x replications lack a finished run of {strategy!r} "
                            f"(failed or not yet run); finish them with `abm sweep EXPERIMENT --out {folder} --resume`")
    table = frames[0]
    for frame in frames[1:]:
        table = table.join(frame, on=keys, how="inner")
    return table.sort(keys)


# -- conditions ------------------------------------------------------------------------


_COMPARE = {ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__", ast.Eq: "__eq__", ast.NotEq: "__ne__"}
_ARITHMETIC = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Div: "__truediv__"}


def parse_condition(text: str, outcomes: list[str], strategies: list[str]) -> tuple[pl.Expr, list[str]]:
    """The condition as a polars expression over :func:`paired` columns, and the strategies it names.

    An outcome without a strategy is allowed only when the sweep has one strategy."""
    where = f"--when {cut(repr(text))}"
    if len(text) > LONGEST_CONDITION:
        raise UserError(f"{where}: {len(text):,} characters, more than the {LONGEST_CONDITION:,} a condition may have")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise UserError(f"{where}: not an expression; e.g. --when \"invest.net_cost_mdkk < status_quo.net_cost_mdkk\"") from None
    except (RecursionError, MemoryError):
        raise UserError(f"{where}: nested too deeply; write a shorter condition") from None
    named: list[str] = []

    def column(strategy: str, outcome: str) -> pl.Expr:
        if strategy not in strategies:
            raise UserError(f"{where}: unknown strategy {strategy!r}; this sweep ran: {', '.join(strategies)}")
        if outcome not in outcomes:
            raise UserError(f"{where}: unknown outcome {outcome!r}; outcomes: {', '.join(outcomes)}")
        if strategy not in named:
            named.append(strategy)
        return pl.col(f"{strategy}.{outcome}")

    def build(node: ast.AST) -> pl.Expr:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return pl.lit(node.value)
        if isinstance(node, ast.Name):
            if len(strategies) != 1:
                raise UserError(f"{where}: {node.id!r} needs a strategy, as strategy.outcome (e.g. "
                                f"{strategies[0]}.{node.id}); this sweep ran: {', '.join(strategies)}")
            return column(strategies[0], node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return column(node.value.id, node.attr)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -build(node.operand)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            if not _is_condition(node.operand):
                raise UserError(f"{where}: not {ast.unparse(node.operand)!r}: `not` applies to a condition "
                                f"(a comparison), e.g. not (invest.trust_mean > 0.5)")
            return ~build(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return getattr(build(node.left), _ARITHMETIC[type(node.op)])(build(node.right))
        if isinstance(node, ast.BoolOp):
            parts = [build(value) for value in node.values]
            combined = parts[0]
            for part in parts[1:]:
                combined = combined & part if isinstance(node.op, ast.And) else combined | part
            return combined
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            left, result = build(node.left), None
            for op, right_node in zip(node.ops, node.comparators):
                right = build(right_node)
                term = getattr(left, _COMPARE[type(op)])(right)
                result = term if result is None else result & term
                left = right
            return result
        raise UserError(f"{where}: {ast.unparse(node)!r} is not allowed; use numbers, outcomes, strategy.outcome, "
                        f"+ - * /, comparisons, and, or, not")

    try:
        expression = build(tree)
    except RecursionError:
        raise UserError(f"{where}: nested too deeply; write a shorter condition") from None
    if not _is_condition(tree):
        raise UserError(f"{where}: not a condition (true or false in each run); compare outcomes, e.g. "
                        f"--when \"invest.net_cost_mdkk < status_quo.net_cost_mdkk\"")
    if not named:
        raise UserError(f"{where}: names no outcome; e.g. --when \"invest.net_cost_mdkk < status_quo.net_cost_mdkk\"")
    return expression, named


def _is_condition(node: ast.AST) -> bool:
    """A node that is true or false in each run: a comparison, or conditions joined by and, or, not."""
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.BoolOp):
        return all(_is_condition(value) for value in node.values)
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and _is_condition(node.operand)


# -- scenario discovery ----------------------------------------------------------------


def discover(folder: str | Path, when: str, out: str | Path | None = None, density: float = DENSITY) -> tuple[str, Path]:
    """PRIM and CART on where ``when`` holds; write tables, plots and an HTML section; return the text and folder."""
    folder = Path(folder)
    check_density(density)
    summary, resolved = read_sweep(folder)
    expression, named = parse_condition(when, outcome_names(summary, resolved), list(resolved["strategies"]))
    names = factors(resolved)
    table = paired(summary, resolved, named, folder).with_columns(expression.alias("holds"))
    holds = table["holds"].to_numpy().astype(bool)
    out = new_output_folder(out or discovery_folder(folder, when, density))
    write_parquet(table, out / "scenarios.parquet")
    headline = f"{when}: holds in {int(holds.sum())} of {holds.size} runs ({holds.mean():.0%})"
    if holds.all() or not holds.any():  # an answer in itself, but nothing for PRIM or CART to tell apart
        text = "\n".join([headline, f"It holds {'everywhere' if holds.all() else 'nowhere'} in this sweep: there is no "
                          "region to find, so PRIM and CART were not run (widen the sweep's ranges, or ask another question)."])
        write_text(text + "\n", out / "discovery.txt")
        write_text(_html_section(f"Where {when}", text, []), out / "discovery.html")
        return text, out
    x = _factor_frame(table, names)
    prim_text, images = _prim(x, holds, density, out)
    cart_text = _cart(x, holds, out)
    text = "\n".join([headline, prim_text, "", cart_text])
    write_text(text + "\n", out / "discovery.txt")
    write_text(_html_section(f"Where {when}", text, images), out / "discovery.html")
    return text, out


def _prim(x, holds: np.ndarray, density: float, out: Path) -> tuple[str, list[str]]:
    """PRIM's peeling trajectory and its chosen box (tables and figures); the text and the figures' names."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EMA's notes on optional packages and pandas' FutureWarnings
        from ema_workbench.analysis import prim

        box = prim.Prim(x, holds, threshold=density, mass_min=0.05).find_box()
    trajectory = pl.from_pandas(box.peeling_trajectory.reset_index(drop=True))
    eligible = [i for i, d in enumerate(trajectory["density"]) if d >= density]
    chosen = max(eligible, key=lambda i: trajectory["coverage"][i] * trajectory["density"][i]) if eligible else trajectory.height - 1
    limits = _box_limits(box, chosen, x)
    write_parquet(trajectory, out / "prim_trajectory.parquet")
    write_parquet(limits, out / "prim_box.parquet")
    if trajectory.height == 1:  # not one peel left a box denser than the whole, within mass_min
        return ("PRIM found no box: no restriction of the factors concentrates the runs where it holds "
                "(too few runs, or it does not depend on the factors varied)"), []

    figure = box.show_tradeoff()
    figure.axes[0].scatter([trajectory["coverage"][chosen]], [trajectory["density"][chosen]], s=120,
                           facecolors="none", edgecolors="red", label="chosen box")
    save_figure(figure, out / "prim_tradeoff.png")
    images = ["prim_tradeoff.png"]
    if limits.height:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box.inspect(chosen, style="graph")
            figure = plt.gcf()
            figure.set_size_inches(10, 1.2 * len(limits) + 2)
            figure.tight_layout()  # the factors' names on the left are long
        save_figure(figure, out / "prim_box.png")
        images.append("prim_box.png")
    stats = trajectory.row(chosen, named=True)
    return "\n".join([
        f"PRIM box {chosen} of {trajectory.height - 1}: coverage {stats['coverage']:.2f} (share of the runs where it "
        f"holds that are in the box), density {stats['density']:.2f} (share of the box's runs where it holds), "
        f"{int(stats['n'])} runs",
        format_table(limits) if limits.height else "(the box restricts no factor)",
    ]), images


def _cart(x, holds: np.ndarray, out: Path) -> str:
    """CART's leaves (a second view beside PRIM's box) as a table; the text.

    scikit-learn's tree, as the EMA Workbench's CART builds it (a leaf holds at least
    ``mass_min`` of the runs) but splitting only where it separates something, read here: EMA's reading of the leaves fails on a tree over
    one factor and on a tree with no split (2.5.3). Categories go in as their codes, and
    ties between equally good splits are broken by a fixed ``random_state``, so the same
    sweep gives the same leaves."""
    from sklearn.tree import DecisionTreeClassifier

    codes = x.apply(lambda column: column.cat.codes.astype(float) if column.dtype.name == "category" else column)
    mass_min = max(0.05, 1.5 / holds.size)  # a leaf holds at least one run
    tree = DecisionTreeClassifier(min_samples_leaf=int(mass_min * holds.size), random_state=0,
                                  min_impurity_decrease=1e-9)  # a split that separates nothing is no answer
    tree.fit(codes.to_numpy(), holds)
    cart_boxes = _cart_table(tree.tree_, x, codes, holds)
    write_parquet(cart_boxes, out / "cart_boxes.parquet")
    if cart_boxes.height == 1:
        return ("CART found no split: no single threshold on a factor separates the runs where it holds "
                "from the others (too few runs, or it does not depend on the factors varied)")
    return "\n".join(["CART's leaves, densest first (density: share of the leaf's runs where it holds):",
                      format_table(cart_boxes.sort("density", descending=True).drop("box"))])


def _factor_frame(table: pl.DataFrame, names: list[str]):
    """The factors as pandas for the EMA Workbench: numbers as floats, anything else as a category."""
    import pandas as pd

    columns = {}
    for name in names:
        series = table[name]
        if series.dtype.is_numeric():
            columns[name] = pd.Series(series.cast(pl.Float64).to_list(), dtype=float)
        else:
            columns[name] = pd.Series([str(value) for value in series.to_list()], dtype="category")
    return pd.DataFrame(columns)


def _box_limits(box, i: int, x) -> pl.DataFrame:
    """The restricted factors of box ``i``: the limits, the whole range, and each limit's quasi-p value."""
    limits, qp = box.box_lims[i], box.qp[i]
    rows = []
    for name, (qp_lower, qp_upper) in qp.items():
        if x[name].dtype.name == "category":
            inside, whole = ", ".join(sorted(map(str, limits[name][0]))), ", ".join(map(str, x[name].cat.categories))
        else:
            inside, whole = f"{limits[name][0]:.4g} .. {limits[name][1]:.4g}", f"{x[name].min():.4g} .. {x[name].max():.4g}"
        rows.append({"factor": name, "box": inside, "range": whole,  # a quasi-p value of -1: that side is not restricted
                     "qp_lower": None if qp_lower < 0 else float(qp_lower), "qp_upper": None if qp_upper < 0 else float(qp_upper)})
    return pl.DataFrame(rows, schema={"factor": pl.String, "box": pl.String, "range": pl.String,
                                      "qp_lower": pl.Float64, "qp_upper": pl.Float64})


def _cart_table(tree, x, codes, holds: np.ndarray) -> pl.DataFrame:
    """CART's leaves: each one's coverage, density, mass and its limits on the factors it restricts
    (a left branch is ``factor <= threshold``, a right one above it)."""
    rows = []

    def leaves(node: int, limits: dict[str, tuple[float, float]]):
        left, right = tree.children_left[node], tree.children_right[node]
        if left == right:  # a leaf (both -1)
            yield limits
            return
        name, threshold = x.columns[tree.feature[node]], float(tree.threshold[node])
        low, high = limits[name]
        yield from leaves(left, limits | {name: (low, min(high, threshold))})
        yield from leaves(right, limits | {name: (max(low, threshold), high)})

    whole = {name: (float(codes[name].min()), float(codes[name].max())) for name in x.columns}
    for number, limits in enumerate(leaves(0, whole)):
        inside = np.ones(holds.size, dtype=bool)
        restricted = []
        for name, (low, high) in limits.items():
            if (low, high) == whole[name]:
                continue

            def within(value, low=low, high=high, floor=whole[name][0]):  # a split's threshold lies between two values
                return ((value > low) | (low == floor)) & (value <= high)

            inside &= within(codes[name].to_numpy())
            if x[name].dtype.name == "category":
                kept = [str(c) for code, c in enumerate(x[name].cat.categories) if within(code)]
                restricted.append(f"{name} in {{{', '.join(kept)}}}")
            else:
                restricted.append(f"{low:.4g} <= {name} <= {high:.4g}")
        rows.append({"box": number, "coverage": float(holds[inside].sum() / holds.sum()),
                     "density": float(holds[inside].mean()), "mass": float(inside.mean()),
                     "limits": " and ".join(restricted) or "(everything)"})
    return pl.DataFrame(rows)


# -- robustness ------------------------------------------------------------------------


def robustness(folder: str | Path, objectives: list[tuple[str, str]], out: str | Path | None = None) -> tuple[str, Path]:
    """Per policy and outcome: the distribution over scenarios and the regret against the best policy
    in each scenario (max and 90th percentile). A policy is a strategy with its lever settings;
    a scenario is a combination of uncertainties and a replication."""
    folder = Path(folder)
    summary, resolved = read_sweep(folder)
    outcomes = outcome_names(summary, resolved)
    for name, _ in objectives:
        if name not in outcomes:
            raise UserError(f"--outcomes {name}: not an outcome of this sweep; outcomes: {', '.join(outcomes)}")
    levers = list(resolved.get("levers", []))
    uncertainties = list(resolved.get("uncertainties", [])) or [p for p in resolved["parameters"] if p not in levers]
    scenario = ["replication", *uncertainties]
    runs = summary.with_columns(pl.struct("strategy", *levers).map_elements(_policy, return_dtype=pl.String).alias("policy"))
    runs = runs.unique(subset=["policy", *scenario], keep="first", maintain_order=True)  # a lever its strategy ignores
    policies = runs["policy"].unique(maintain_order=True).to_list()
    out = new_output_folder(out or folder / "robustness")
    rows = []
    for name, sense in objectives:
        best = pl.col(name).min() if sense == "min" else pl.col(name).max()
        regret = (pl.col(name) - pl.col("best")).abs()
        scored = runs.join(runs.group_by(scenario).agg(best.alias("best")), on=scenario).with_columns(regret.alias("regret"))
        stats = scored.group_by("policy", maintain_order=True).agg(
            pl.len().alias("scenarios"), pl.col(name).mean().alias("mean"), pl.col(name).quantile(0.1).alias("p10"),
            pl.col(name).median().alias("median"), pl.col(name).quantile(0.9).alias("p90"),
            pl.col("regret").max().alias("regret_max"), pl.col("regret").quantile(0.9).alias("regret_p90"))
        rows.append(stats.with_columns(pl.lit(name).alias("outcome"), pl.lit(sense).alias("better")).sort("regret_max"))
        _robustness_plot(scored, name, sense, policies, out / f"robustness_{name}.png")
    table = pl.concat(rows).select("outcome", "better", "policy", pl.exclude("outcome", "better", "policy"))
    write_parquet(table, out / "robustness.parquet")
    text = "Per policy: the outcome over the scenarios and the regret against the best policy in each scenario\n" + format_table(table)
    write_text(text + "\n", out / "robustness.txt")
    write_text(_html_section("Robustness", text, [f"robustness_{name}.png" for name, _ in objectives]), out / "robustness.html")
    return text, out


def _policy(row: dict) -> str:
    """A strategy with the settings of the levers it reads, e.g. ``invest caseload_target=80``."""
    read = strategies.lookup(row["strategy"]).parameters
    return " ".join([row["strategy"], *(f"{key.split('.', 1)[1]}={value:g}" if isinstance(value, float) else
                                        f"{key.split('.', 1)[1]}={value}" for key, value in row.items() if key in read)])


def _robustness_plot(scored: pl.DataFrame, name: str, sense: str, policies: list[str], path: Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 0.5 * len(policies) + 2))
    for ax, column, title in ((left, name, f"{name} over the scenarios ({sense} is better)"),
                              (right, "regret", f"regret on {name} against the best policy")):
        data = [scored.filter(pl.col("policy") == p)[column].to_numpy() for p in policies]
        ax.boxplot(data, orientation="horizontal", tick_labels=policies)
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    save_figure(figure, path)


# -- output ----------------------------------------------------------------------------


def new_output_folder(path: str | Path) -> Path:
    """A folder for this analysis' output; an existing one with files is refused, never
    overwritten (:func:`abm.output.check_output_folder`; these commands have no --overwrite)."""
    return prepare_output_dir(check_output_folder(path, can_overwrite=False, analysis=True))


def discovery_folder(folder: str | Path, when: str, density: float) -> Path:
    """Where ``abm discover`` writes by default: named by what was asked (the condition and
    the density), so another question gets its own folder."""
    return Path(folder) / "discovery" / _slug(f"{when} --density {density:g}")


def check_density(density: float) -> None:
    if not 0 < density <= 1:  # false for nan too
        raise UserError(f"--density {density:g}: expected a share above 0 and at most 1 (the PRIM box's share of runs "
                        f"where the condition holds), e.g. --density {DENSITY}")


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def format_table(frame: pl.DataFrame) -> str:
    """A frame as aligned text, with the same formatter as the comparison and sweep tables (tabulate)."""
    return tabulate(frame.rows(), frame.columns, floatfmt=".4g", missingval="n/a")


def _html_section(title: str, text: str, images: list[str]) -> str:
    """A section to put in an HTML report: the printed table and the figures beside it."""
    figures = "".join(f'<img src="{html.escape(name)}" alt="{html.escape(name)}" style="max-width:100%">' for name in images)
    return f"<section>\n<h2>{html.escape(title)}</h2>\n<pre>{html.escape(text)}</pre>\n{figures}\n</section>\n"
