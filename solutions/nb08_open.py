"""Reference solutions of notebook 08's open exercises: the 🐕 sweep of K that reruns the notebook headless, and the
🦁 second reward function against stock replies."""

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


def duplicate_penalty(completions, query, **kwargs):
    """🦁 A second TRL reward function: minus the share of the other replies to the same prompt that are word for word
    this reply. TRL passes the whole generation batch, K replies per prompt; `query` says which prompt each answers."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    penalties = []
    for q, t in zip(query, texts):
        others = sum(q2 == q for q2 in query) - 1  # the other replies to this prompt
        copies = sum(q2 == q and t2 == t for q2, t2 in zip(query, texts)) - 1
        penalties.append(-copies / others if others else 0.0)
    return penalties
