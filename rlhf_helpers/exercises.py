"""Exercise checkers: compare a learner's function with the reference, print ✅ or ❌, never raise.

Introduced in notebook 01; every notebook's exercises use `check`. A skipped exercise (the function
still raises NotImplementedError) prints a note and returns False, so the notebook runs to the end.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable


def _same(got: Any, want: Any, atol: float, rtol: float) -> tuple[bool, str]:
    """Whether `got` matches `want` (tensors, arrays, numbers, containers) and, if not, why."""
    try:
        import torch

        if isinstance(want, torch.Tensor):
            if not isinstance(got, torch.Tensor):
                return False, f"expected a tensor, got {type(got).__name__}"
            if got.shape != want.shape:
                return False, f"shape {tuple(got.shape)} instead of {tuple(want.shape)}"
            if want.dtype == torch.bool or not want.is_floating_point():
                ok = torch.equal(got.to(want.dtype), want)
                return ok, "" if ok else f"{int((got.to(want.dtype) != want).sum())} element(s) differ"
            diff = (got.double() - want.double()).abs().max().item() if want.numel() else 0.0
            ok = torch.allclose(got.double(), want.double(), atol=atol, rtol=rtol)
            return ok, "" if ok else f"max abs difference {diff:.3g}"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if isinstance(want, float) or isinstance(got, float):
        try:
            ok = math.isclose(float(got), float(want), abs_tol=atol, rel_tol=rtol)
        except (TypeError, ValueError):
            return False, f"expected a number, got {type(got).__name__}"
        return ok, "" if ok else f"{float(got):.6g} instead of {float(want):.6g}"
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return False, f"expected {len(want)} values, got {got!r:.80}"
        for i, (g, w) in enumerate(zip(got, want)):
            ok, why = _same(g, w, atol, rtol)
            if not ok:
                return False, f"item {i}: {why}"
        return True, ""
    ok = got == want
    return ok, "" if ok else f"{got!r:.80} instead of {want!r:.80}"


def check(learner_fn: Callable, reference_fn: Callable, cases: Iterable[tuple], *, name: str, hint: str,
          atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Run both functions on every case and report ✅ / ❌ (with a hint) or ⏭ (not attempted).

    Args:
        learner_fn: the learner's implementation.
        reference_fn: the reference implementation.
        cases: argument tuples, e.g. random inputs and edge cases.
        name: the exercise's name, printed.
        hint: shown when the answer is wrong.
    Returns:
        True when every case matches. Never raises.
    """
    cases = list(cases)
    for i, args in enumerate(cases):
        try:
            got = learner_fn(*args)
        except NotImplementedError:
            print(f"⏭  {name}: not attempted yet — the notebook carries on with the reference.")
            return False
        except Exception as err:  # the learner's code may fail in any way; report it, don't raise
            print(f"❌ {name}: case {i + 1} raised {type(err).__name__}: {err}\n   hint: {hint}")
            return False
        want = reference_fn(*args)
        ok, why = _same(got, want, atol, rtol)
        if not ok:
            print(f"❌ {name}: case {i + 1} of {len(cases)}: {why}\n   hint: {hint}")
            return False
    print(f"✅ {name}: matches the reference on all {len(cases)} cases.")
    return True
