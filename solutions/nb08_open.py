"""Reference solutions of notebook 08's open exercises (🐕): sweeps that rerun the notebook headless."""

from rlhf_helpers.solutions.nb05_open import run_notebook_with

KEYS = ("rloo_toxic_rate_after", "grpo_toxic_rate_after", "grpo_reward_after", "rloo_kl_last", "grpo_kl_last")


def sweep(parameter, values, profile="tiny", keys=KEYS):
    """🐕 Rerun notebook 08 once per value of `parameter` (e.g. "NUM_GENERATIONS", "BETA"); returns
    {value: {key: metric}} for `keys`. Each run overwrites the notebook's artifacts: rerun the notebook with its
    defaults afterwards if notebook 06 should compare the default adapters."""
    table = {}
    for value in values:
        metrics = run_notebook_with("08_rloo_grpo", {parameter: value}, profile=profile)
        table[value] = {key: metrics.get(key) for key in keys}
    return table


def print_sweep(parameter, table):
    """🐕 One row per value, one column per metric."""
    keys = list(next(iter(table.values())))
    print(f"{parameter:>16} " + " ".join(f"{k:>22}" for k in keys))
    for value, row in table.items():
        print(f"{value!s:>16} " + " ".join(f"{row[k]:>22.3f}" if row[k] is not None else f"{'-':>22}" for k in keys))
