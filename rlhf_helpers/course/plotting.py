"""Plots of training logs with matplotlib, offline (no W&B): introduced in notebook 01.

`plot_metrics` reads a trainer's `state.log_history`, a list of dicts (e.g. the PPO history), a
`trainer_state.json` path or an output folder that contains one.
"""

from __future__ import annotations

import json
from pathlib import Path


def load_log_history(source) -> list[dict]:
    """The list of logged dicts from a Trainer, a log-history list, or a trainer_state.json file/folder."""
    if hasattr(source, "state") and hasattr(source.state, "log_history"):
        return list(source.state.log_history)
    if isinstance(source, list):
        return source
    path = Path(source)
    if path.is_dir():
        candidates = [path / "trainer_state.json"] + sorted(
            path.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[-1]))
        existing = [p for p in candidates if p.exists()]
        if not existing:
            raise FileNotFoundError(f"no trainer_state.json in {path} or its checkpoint-* folders; "
                                    "save one with trainer.save_state()")
        path = existing[0] if existing[0].parent == path else existing[-1]
    return json.loads(path.read_text())["log_history"]


def metric_series(history: list[dict], name: str, x_key: str = "step") -> tuple[list, list]:
    """(x, y) of every log entry that has `name`; x is `x_key` when logged, else the entry's index."""
    xs, ys = [], []
    for i, entry in enumerate(history):
        if name in entry and entry[name] is not None:
            xs.append(entry.get(x_key, i))
            ys.append(float(entry[name]))
    return xs, ys


# One colour per method in every notebook's plots (06 and 08 compare the same models): pass `color=method_color(name)`.
METHOD_COLORS = {"base": "tab:gray", "sft": "tab:olive", "ppo": "tab:blue", "dpo": "tab:orange", "rloo": "tab:green",
                 "grpo": "tab:red", "reference": "tab:gray"}


def method_color(name: str) -> str:
    """The course's colour for a method named `name` ("PPO", "dpo", "GRPO (β = 0.1)", ...): its first word decides."""
    key = name.strip().split()[0].lower().strip(":,()") if name.strip() else ""
    if key not in METHOD_COLORS:
        raise ValueError(f"no colour for method {name!r}; known: {sorted(METHOD_COLORS)} (add it to METHOD_COLORS)")
    return METHOD_COLORS[key]


def plot_metrics(source, metrics=("loss", "eval_loss"), x_key: str = "step", title: str | None = None, ax=None,
                 xlabel: str | None = None):
    """Plot the named metrics against steps, one line each; returns the matplotlib Axes.

    `xlabel` names the x-axis (default "optimiser step" for x_key "step"; PPO's history counts iterations).

    Raises a ValueError naming the metrics that were logged when none of `metrics` was.
    """
    import matplotlib.pyplot as plt

    history = load_log_history(source)
    series = {m: metric_series(history, m, x_key) for m in metrics}
    if not any(xs for xs, _ in series.values()):
        logged = sorted({k for entry in history for k in entry})
        raise ValueError(f"none of {list(metrics)} was logged; logged metrics: {logged}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, (xs, ys) in series.items():
        if xs:
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
    ax.set_xlabel(xlabel or ("optimiser step" if x_key == "step" else x_key))
    drawn = [m for m in metrics if series[m][0]]
    ax.set_ylabel(drawn[0] if len(drawn) == 1 else "value")  # every panel gets both axes labelled
    ax.set_title(title or ", ".join(m for m in metrics if series[m][0]))
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_dashboard(source, metrics, x_key: str = "step", ncols: int = 3, title: str | None = None,
                   xlabel: str | None = None):
    """One small plot per metric (e.g. the PPO dashboard, `xlabel="PPO iteration"`); returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.8 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, metrics):
        plot_metrics(source, [name], x_key=x_key, title=name, ax=ax, xlabel=xlabel).get_legend().remove()
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
