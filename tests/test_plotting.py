import json

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from rlhf_helpers.course.plotting import load_log_history, metric_series, plot_dashboard, plot_metrics  # noqa: E402

HISTORY = [{"loss": 3.0, "step": 10}, {"loss": 2.0, "step": 20}, {"eval_loss": 2.5, "step": 20},
           {"loss": 1.0, "step": 30}, {"train_runtime": 5.0, "step": 30}]


def test_sources_all_give_the_same_history(tmp_path):
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": HISTORY}))
    ckpt = tmp_path / "run" / "checkpoint-30"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text(json.dumps({"log_history": HISTORY}))

    class FakeTrainer:
        class state:
            log_history = HISTORY

    for source in (HISTORY, tmp_path, tmp_path / "trainer_state.json", tmp_path / "run", FakeTrainer()):
        assert load_log_history(source) == HISTORY
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="save_state"):
        load_log_history(tmp_path / "empty")


def test_series_and_plot_lines_hold_the_logged_values():
    assert metric_series(HISTORY, "loss") == ([10, 20, 30], [3.0, 2.0, 1.0])
    ax = plot_metrics(HISTORY, ["loss", "eval_loss"])
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines == {"loss": [3.0, 2.0, 1.0], "eval_loss": [2.5]}


def test_unknown_metric_lists_what_was_logged():
    with pytest.raises(ValueError, match="logged metrics: .*'loss'"):
        plot_metrics(HISTORY, ["reward"])


def test_dashboard_has_one_panel_per_metric():
    fig = plot_dashboard([{"step": i, "a": i, "b": -i} for i in range(5)], ["a", "b"], ncols=3)
    titled = [ax.get_title() for ax in fig.axes if ax.get_lines()]
    assert titled == ["a", "b"]


def test_every_plot_labels_both_axes():
    import matplotlib
    matplotlib.use("Agg")
    from rlhf_helpers.course.plotting import plot_dashboard, plot_metrics

    history = [{"step": 1, "loss": 0.7, "kl": 0.0}, {"step": 2, "loss": 0.5, "kl": 0.3}]
    ax = plot_metrics(history, ["loss"])
    assert ax.get_xlabel() == "optimiser step" and ax.get_ylabel() == "loss"
    assert plot_metrics(history, ["loss", "kl"]).get_ylabel() == "value"
    fig = plot_dashboard(history, ["loss", "kl"], ncols=2)
    assert all(a.get_xlabel() and a.get_ylabel() for a in fig.axes)


def test_method_colours_are_one_per_method_and_unknown_names_are_refused():
    from rlhf_helpers.course.plotting import METHOD_COLORS, method_color

    assert method_color("PPO") == method_color("ppo (β = 0.1)") == METHOD_COLORS["ppo"]
    methods = ["base", "ppo", "dpo", "rloo", "grpo"]
    assert len({method_color(m) for m in methods}) == len(methods)  # the compared methods never share a colour
    with pytest.raises(ValueError, match="no colour for method 'kto'"):
        method_color("kto")


def test_dashboard_x_axis_names_what_it_counts():
    import matplotlib

    matplotlib.use("Agg")
    from rlhf_helpers.course.plotting import plot_dashboard

    history = [{"step": i, "score": float(i), "kl": 0.1 * i} for i in range(1, 4)]
    fig = plot_dashboard(history, ["score", "kl"], xlabel="PPO iteration")
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == ["PPO iteration", "PPO iteration"]
    assert plot_dashboard(history, ["score"]).axes[0].get_xlabel() == "optimiser step"
