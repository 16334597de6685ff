"""pyabc's model, distance and sampler for ``abm calibrate --method abc`` (see :mod:`abm.calibration.abc`).

A module of its own because importing pyabc takes seconds: only an ABC run pays for it.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import polars as pl
import pyabc

from abm.calibration.fit import Experiment, RunFailed, experiment, fit_table, loss, run_experiments
from abm.calibration.statistics import STATISTICS
from abm.calibration.targets import Targets
from abm.config import Config
from abm.errors import UserError
from abm.execution import Executor

FIRST_ROUND_FACTOR = 2  # a generation's first round proposes twice the particles (about half are accepted)
MAX_ROUND_FACTOR = 10  # no round proposes more than ten times the particles
ROUND_MARGIN = 1.2  # a later round proposes 20% more than the acceptance rate so far says it needs
PRIOR_SAMPLE, GENERATION, PREDICTIVE = 0, 1, 2  # seed streams: pyabc's prior sample (its first threshold), generations, checks


class Proposed(Exception):
    """Raised by the model while the sampler collects a round's proposals (the parameters, not yet simulated)."""

    def __init__(self, parameters: dict[str, float]):
        super().__init__("proposal")
        self.parameters = parameters


class ExperimentModel(pyabc.Model):
    """The targets' experiments as a pyabc model whose simulations are done in batches by the sampler.

    pyabc calls :meth:`sample` from inside its proposal-and-acceptance function. While the
    sampler collects proposals, ``answer`` is None and the proposal is raised back to it;
    when it evaluates them, ``answer`` holds the statistics simulated for that proposal.
    """

    def __init__(self, targets: Targets, base: Config, replications: int, executor: Executor):
        super().__init__("abm")
        self.targets, self.base, self.replications, self.executor = targets, base, replications, executor
        self.answer: dict[str, np.ndarray] | None = None
        self.simulations = 0  # particles simulated, including those a round proposed beyond its last acceptance
        self.runs_per_particle = len(self.experiments([{}])[0].configs) * replications

    def sample(self, pars) -> dict[str, np.ndarray]:
        if self.answer is None:
            raise Proposed(dict(pars))
        return self.answer

    def experiments(self, vectors: list[dict[str, float]]) -> list[Experiment]:
        return [experiment(self.targets, self.base.with_overrides(vector, origin="--method abc")) for vector in vectors]

    def simulate(self, vectors: list[dict[str, float]], seeds: list[int], description: str) -> list[dict[str, np.ndarray]]:
        """Each vector's statistic values per target (one per replication), all vectors' runs on the executor at once."""
        answers = run_experiments(self.experiments(vectors), self.replications, seeds=seeds, executor=self.executor,
                                  description=description)
        self.simulations += len(vectors)
        for vector, answer in zip(vectors, answers):
            if isinstance(answer, str):
                raise RunFailed(f"a run at {vector} raised (the generations stored so far are kept; --resume continues):\n{answer}")
        return [{name: np.asarray(values, dtype=float) for name, values in answer.items()} for answer in answers]

    def check_measurable(self, answers: list[dict[str, np.ndarray]]) -> None:
        """Stop, with one line, on a target whose statistic no run of the prior sample could compute."""
        for target in self.targets.targets:
            if all(np.isnan(answer[target.name]).all() for answer in answers):
                raise UserError(f"{self.targets.path}: targets {target.name!r}: the model computed no value of "
                                f"{target.statistic!r} in any of the {len(answers)} parameter vectors of the prior sample "
                                f"({STATISTICS[target.statistic].doc}); check the experiment's settings (run.weeks, the arms) "
                                "against what the statistic needs")

    def predictive(self, draws: pl.DataFrame, keys: list[str], seed: int) -> pl.DataFrame:
        """Posterior predictive runs: one row per draw and target, the statistic as the target measures it."""
        vectors = [{key: row[key] for key in keys} for row in draws.iter_rows(named=True)]
        seeds = [particle_seed(seed, PREDICTIVE, 0, index) for index in range(len(vectors))]
        answers = self.simulate(vectors, seeds, "posterior predictive runs")
        rows = []
        for index, (vector, answer) in enumerate(zip(vectors, answers)):
            table = fit_table(self.targets, {name: list(values) for name, values in answer.items()})
            for row in table.iter_rows(named=True):
                rows.append({"draw": index, **vector, "target": row["target"], "model_mean": row["model_mean"], "z": row["z"]})
        return pl.DataFrame(rows)


class TargetsDistance:
    """The calibration loss (weighted sum of the targets' squared z-scores) as pyabc's distance."""

    def __init__(self, targets: Targets):
        self.targets = targets

    def __call__(self, x: dict, x_0: dict) -> float:
        return loss(fit_table(self.targets, {name: list(np.atleast_1d(values)) for name, values in x.items()}))


def particle_seed(seed: int, stage: int, generation: int, index: int) -> int:
    """The seed of one particle: from the run's seed and the particle's place, never from shared state."""
    return int(np.random.SeedSequence([seed, stage, generation + 1, index]).generate_state(1, dtype=np.uint32)[0])


@contextlib.contextmanager
def seeded_numpy(seed: int) -> Iterator[None]:
    """numpy's global generator (pyabc's source of proposals) seeded for one particle, then restored."""
    before = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(before)


class ExecutorSampler(pyabc.sampler.Sampler):
    """pyabc's sampler for :class:`ExperimentModel`: rounds of proposals simulated together on the executor.

    A round's size depends only on the acceptances so far in the generation (never on the
    workers), and does not change which particles are accepted: particle ``i``'s proposal
    and runs depend on its seed alone, and the particles are judged in index order, the
    first ``n`` accepted kept (as pyabc's own parallel samplers do, so fast simulations are
    not favoured). pyabc's count of evaluations (its acceptance rate) runs to the ``n``-th
    accepted particle; ``model.simulations`` counts every particle simulated.
    """

    def __init__(self, model: ExperimentModel, seed: int):
        super().__init__()
        self.model, self.seed = model, seed

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
        stage = PRIOR_SAMPLE if all_accepted else GENERATION
        description = "ABC prior sample (first threshold)" if all_accepted else f"ABC generation {t}"
        sample = self._create_empty_sample()
        accepted = evaluated = 0
        size = n if all_accepted else n * FIRST_ROUND_FACTOR
        while accepted < n and evaluated < max_eval:
            size = int(min(size, n * MAX_ROUND_FACTOR, max_eval - evaluated))
            seeds = [particle_seed(self.seed, stage, t, evaluated + offset) for offset in range(size)]
            proposals = [self._propose(simulate_one, particle) for particle in seeds]
            answers = self.model.simulate(proposals, seeds, description)
            if all_accepted:
                self.model.check_measurable(answers)
            for particle, proposal, answer in zip(seeds, proposals, answers):
                result = self._evaluate(simulate_one, particle, proposal, answer)
                sample.append(result)
                evaluated += 1
                accepted += bool(result.accepted)
                if accepted == n:
                    break
            # the next round: enough for the particles still missing at the rate so far (twice this one if none yet)
            size = math.ceil((n - accepted) / (accepted / evaluated) * ROUND_MARGIN) if accepted else 2 * size
        self.nr_evaluations_ = evaluated
        if accepted < n:
            sample.ok = False
        return sample

    def _propose(self, simulate_one, particle: int) -> dict[str, float]:
        self.model.answer = None
        with seeded_numpy(particle):
            try:
                simulate_one()
            except Proposed as proposed:
                return proposed.parameters
        raise RuntimeError("pyabc accepted a particle without simulating it")

    def _evaluate(self, simulate_one, particle: int, proposal: dict[str, float], answer: dict[str, np.ndarray]):
        self.model.answer = answer
        try:
            with seeded_numpy(particle):
                result = simulate_one()
        finally:
            self.model.answer = None
        if dict(result.parameter) != proposal:  # the same seed must give the same proposal
            raise RuntimeError(f"pyabc proposed {dict(result.parameter)} where it had proposed {proposal} with the same seed")
        return result
