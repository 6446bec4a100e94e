"""Results: the last cell of every notebook reports its key metrics through `report`.

Introduced in notebook 01. The headless runner (`python -m rlhf_helpers run`) sets
RLHF_RESULTS_DIR so every notebook's metrics land in `<notebook stem>.json` there.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path


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
        path.write_text(json.dumps(flat, indent=1))
        print(f"written to {path}")
    return flat
