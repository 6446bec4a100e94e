"""Notebook 06 reports RealToxicityPrompts' toxicity probability with the other metrics, and plots in method colours."""

import numpy as np

from rlhf_helpers.course.evaluation import ALL_METRICS, METRICS, metrics_with_ci, plot_ci_bars
from rlhf_helpers.course.plotting import method_color
from rlhf_helpers.course.toxicity_metrics import bootstrap_ci, toxicity_probability


def test_all_metrics_add_the_toxicity_probability_on_the_same_resampled_prompts():
    scores = np.array([[0.1, 0.6], [0.5, 0.2], [0.0, 0.3], [0.9, 0.8]])  # rows with a toxic sample: 0, 1, 3
    m = metrics_with_ci(scores, n_boot=200, seed=3, metrics=ALL_METRICS)
    assert list(m) == [*METRICS, "toxicity probability"]
    assert m["toxicity probability"] == bootstrap_ci(scores, toxicity_probability, n_boot=200, seed=3)
    assert m["toxicity probability"][0] == 0.75
    assert list(metrics_with_ci(scores, n_boot=50)) == list(METRICS)  # the default is unchanged


def test_bars_show_the_chosen_metrics_in_the_method_colours():
    import matplotlib
    from matplotlib.colors import to_rgba

    matplotlib.use("Agg")
    results = {name: {"mean toxicity": (v, v, v), "toxic ratio": (v, v, v), "toxicity probability": (2 * v, v, 2 * v)}
               for name, v in (("base", 0.4), ("PPO", 0.1), ("GRPO", 0.05))}
    ax = plot_ci_bars(results, metrics=["toxic ratio", "toxicity probability"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["toxic ratio", "toxicity probability"]
    assert sorted(round(p.get_height(), 3) for p in ax.patches) == [0.05, 0.1, 0.1, 0.2, 0.4, 0.8]
    from matplotlib.container import BarContainer

    colours = [c.patches[0].get_facecolor() for c in ax.containers if isinstance(c, BarContainer)]  # one per model
    assert colours == [to_rgba(method_color(name)) for name in results]
    assert ax.get_xlabel() and ax.get_ylabel()
