"""Results: the last cell of every notebook reports its key metrics (`report`) and compares them with
what you should see (`expect`, ranges in `expected.py`).

Introduced in notebook 01. The headless runner (`python -m rlhf_helpers run`) sets
RLHF_RESULTS_DIR so every notebook's metrics land in `<notebook stem>.json` there.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

STRICT_ENV = "RLHF_STRICT_EXPECT"  # "1": a tiny-profile value outside its range raises (the test suite sets it)


def report(notebook: str, metrics: dict) -> dict[str, float]:
    """Show `metrics` as a table and, when $RLHF_RESULTS_DIR is set, write `<notebook>.json` there.

    Args:
        notebook: the notebook's stem, e.g. "01_sft".
        metrics: metric name -> number (Python, NumPy or 0-d torch numbers).
    Returns:
        The flat dict of floats that was written.
    """
    flat = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {key!r} is {value!r}, not a number: report numbers only") from None
        if math.isnan(number):
            raise ValueError(f"metric {key!r} is NaN: something upstream failed")
        flat[str(key)] = number
    width = max([len(k) for k in flat] + [6])
    print(f"{'metric':<{width}}  value")
    for key, number in flat.items():
        print(f"{key:<{width}}  {number:.4g}")
    out_dir = os.environ.get("RLHF_RESULTS_DIR")
    if out_dir:
        path = Path(out_dir) / f"{notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(flat, indent=1))
        os.replace(partial, path)  # whole or not at all: the runner reads it
        print(f"written to {path}")
    return flat


def read_report(path: Path) -> dict[str, float]:
    """The metrics a notebook's `report` wrote to `path`; a ValueError naming the file when it is not such a file."""
    text = Path(path).read_text()
    try:
        metrics = json.loads(text)
    except ValueError as err:
        raise ValueError(f"{path} is not JSON ({err}; it starts {text[:40]!r}): it should hold the metrics the "
                         "notebook's last cell reports. Delete it and run the notebook again.") from None
    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float)) for v in metrics.values()):
        raise ValueError(f"{path} is JSON but not a metric -> number table ({text[:60]!r}): delete it and run the "
                         "notebook again.")
    return metrics


def in_range(value: float, bounds: tuple) -> bool:
    """True when `value` lies in `bounds` = (low, high), both inclusive; None is an open end."""
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def format_range(bounds: tuple) -> str:
    """(0.6, 0.95) -> '0.6 to 0.95', (0.9, None) -> '≥ 0.9', (None, 0.05) -> '≤ 0.05'."""
    low, high = bounds
    if low is None:
        return f"≤ {high:g}"
    if high is None:
        return f"≥ {low:g}"
    return f"{low:g} to {high:g}"


def expect(profile, results: dict, expected: dict | None = None) -> dict[str, bool]:
    """Compare this run's results with what you should see, as a table: expected / you got / ✅ or ⚠️.

    In the tiny profile each expected value is a range measured with seeds 0, 1 and 2 and the default
    settings. In the full profile it is what published runs report (expected, not measured here): shown for
    comparison, never enforced. A value outside its range prints ⚠️ and a hint; it raises only under the
    test suite (environment variable RLHF_STRICT_EXPECT=1), in the tiny profile, with the default settings.

    Args:
        profile: the notebook's `Profile` (from `setup`).
        results: metric name -> number (what `report` returned).
        expected: metric name -> `Expected`; default: `expected.EXPECTED[profile.notebook]`.
    Returns:
        metric name -> True when the value is in its range (tiny) or has no range (full, in words only).
    """
    from rlhf_helpers.infra.expected import EXPECTED, changed_settings

    expected = EXPECTED[profile.notebook] if expected is None else expected
    tiny = profile.name == "tiny"
    if not tiny:  # values only the toy world's ground truth can measure
        expected = {k: e for k, e in expected.items() if not (getattr(e, "tiny_only", False) and k not in results)}
    missing = sorted(set(expected) - set(results))
    if missing:
        raise KeyError(f"expected values for {missing}, which the results do not contain")
    changed = changed_settings(profile)
    rows, ok = [], {}
    for key, e in expected.items():
        value = float(results[key])
        bounds = e.tiny if tiny else e.full_range
        ok[key] = True if bounds is None else in_range(value, bounds)
        shown = format_range(bounds) if bounds is not None else e.full
        if not tiny:
            shown += " (expected, not measured)" if bounds is None else f" ({e.full}; expected, not measured)"
        rows.append((e.what, shown, f"{value:.3g}", "✅" if ok[key] else "⚠️"))
    widths = [max(len(r[i]) for r in rows + [("what", "expected", "you got", "")]) for i in range(3)]
    print(f"What you should see, profile {profile.name}:")
    print(f"{'what':<{widths[0]}}  {'expected':<{widths[1]}}  {'you got':>{widths[2]}}")
    for what, shown, got, mark in rows:
        print(f"{what:<{widths[0]}}  {shown:<{widths[1]}}  {got:>{widths[2]}}  {mark}")
    off = [key for key, good in ok.items() if not good]
    if changed:
        print(f"You changed {', '.join(changed)}: the ranges are for the default settings, so ⚠️ may be expected.")
    if off and tiny:
        print("⚠️ means a value outside the range seen with the default settings and SEED 0, 1 and 2. "
              "Read the cells that compute it: a changed setting, an edit of yours or a real problem?")
    strict = os.environ.get(STRICT_ENV) == "1" and tiny and not changed
    if off and strict:
        raise AssertionError(f"{profile.notebook}: outside the expected tiny-profile range: "
                             + "; ".join(f"{k} = {float(results[k]):.4g} (expected {format_range(expected[k].tiny)})"
                                         for k in off))
    return ok
