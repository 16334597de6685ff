"""The model's rules, registered here once, and the order in which they run.

Each rule lives in its own module (``abm/rules/<name>.py``, and the population, the
citizens' network and the jobcenter's case allocation in ``abm/``) and declares there,
in its ``RULE``, everything the model needs from it (:class:`abm.declarations.Rule`).
``RULES`` is the order of the config's sections, the state columns and the outputs;
``WEEK`` is the week, top to bottom (after it the week is measured and recorded);
``START`` the order in which the rules set up a new model. A rule of your own joins with
:func:`abm.mechanisms.register` (``docs/extending.md``).
"""

from abm import jobcenter, mechanisms, network, population
from abm.rules import casework, costs, council, inflow, migration, progress, protest, trust, turnover

RULES = (population.RULE, network.RULE, inflow.RULE, jobcenter.RULE, casework.RULE, progress.RULE, trust.RULE,
         protest.RULE, turnover.RULE, migration.RULE, council.RULE, costs.RULE)

WEEK = (
    "inflow",     # new clients enter
    "network",    # each citizen talks to one tie
    "casework",   # meetings and their quality
    "progress",   # health, pressing, clarification, exits
    "trust",
    "protest",
    "turnover",   # stress, quits, hires
    "migration",
    "council",    # budget decisions, pilots, trials
)

START = ("council", "population", "progress", "turnover", "jobcenter")
"""Start-up: councils and their positions, the starting clients, their progress, the staff, caseloads."""

mechanisms.register_built_in(RULES, WEEK, START)

from abm.strategies import built_in  # noqa: E402,F401 (registers the built-in strategies, which read the council's section)
