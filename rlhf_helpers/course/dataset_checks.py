"""Fail-early checks of a dataset before training on it, with errors that say how to fix it.

Introduced in notebook 01 (SFT) and used at the top of most notebooks: `check_columns` (the columns you need are
there), `check_not_empty` (the split has rows) and `filter_with_count` (drop rows and print how many went, and
why). Notebooks import them from `formatting`, which uses them to turn hh-rlhf rows into preference pairs.
Each accepts a `datasets.Dataset` or a plain list of dict rows.
"""

from collections.abc import Mapping


def _column_names(data):
    """Return the columns of a datasets.Dataset, a list of dict rows or one row."""
    names = getattr(data, "column_names", None)
    if isinstance(names, dict):  # a DatasetDict: one list of columns per split
        raise ValueError(f"Got several splits {sorted(names)}: pick one first, e.g. dataset['train'].")
    if names is not None:
        return list(names)
    rows = [data] if isinstance(data, Mapping) else list(data)
    return [key for key in rows[0] if all(key in row for row in rows)] if rows else []


def check_columns(data, required, name="dataset"):
    """Fail early if a dataset lacks columns you need.

    Args:
        data: a datasets.Dataset, a list of dict rows (a column counts only if every row
            has it) or one dict row.
        required: the column names that must be present.
        name: what to call the data in the error message.

    Returns:
        None; raises ValueError naming the missing and the present columns.
    """
    required = [required] if isinstance(required, str) else list(required)
    present = _column_names(data)
    missing = [column for column in required if column not in present]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; it has {present}. Check that you loaded the "
            "right dataset and split, or rename the columns (dataset.rename_column(old, new))."
        )


def check_not_empty(dataset, split_name):
    """Fail early if a split has no rows.

    Args:
        dataset: a datasets.Dataset or a list of rows.
        split_name: the split's name, for the message (e.g. "train").

    Returns:
        None; raises ValueError if the split is empty.
    """
    if len(dataset) == 0:
        raise ValueError(
            f"The {split_name!r} split is empty (0 rows). Check the split name, and any slicing "
            "(e.g. 'train[:0]') or filtering done before this point."
        )


def filter_with_count(dataset, predicate, reason, quiet_if_none=False):
    """Keep the rows where predicate(row) is True, and print how many were dropped and why.

    Args:
        dataset: a datasets.Dataset or a list of dict rows.
        predicate: a function of one row, True to keep it.
        reason: why rows are dropped, for the printed line.
        quiet_if_none: print nothing when no row is dropped (the caller then prints one summary line).

    Returns:
        The kept rows, of the same kind as dataset.
    """
    before = len(dataset)
    if hasattr(dataset, "filter") and hasattr(dataset, "column_names"):
        kept = dataset.filter(predicate)
    else:
        kept = [row for row in dataset if predicate(row)]
    if len(kept) < before or not quiet_if_none:
        print(f"dropped {before - len(kept)} of {before} rows ({reason})")
    return kept
