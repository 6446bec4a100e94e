"""Exercise checkers: compare a learner's function with the reference, print ✅ or ❌, never raise.

Introduced in notebook 01; every notebook's exercises use `check`. Each call, the reference's and the
learner's, gets its own copy of a case's inputs, and a learner's function that changes its inputs fails
with its own hint. A failed case is shown: its inputs (small ones in full) and both outputs. When the
wrong output is exactly what a known mistake gives, the hint names that mistake.

A check returns True (✅), False (❌) or None (⏭: the function still raises NotImplementedError, the
exercise is skipped and the notebook carries on). None shows nothing as a cell's last value, so a skipped
exercise prints one line and no bare `False`.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any, Callable, Iterable, Mapping

MUTATION_HINT = ("your function must not modify its inputs: the caller still needs them. Work on a copy "
                 "(x.clone()) or use out-of-place operations (masked_fill, not masked_fill_; x = x - y, not x -= y)")
_SHOW_MAX = 48  # inputs and outputs with at most this many numbers are printed in full


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
            if not got.is_floating_point():
                got = got.double()
            diff = (got.double() - want.double()).abs().max().item() if want.numel() else 0.0
            ok = torch.allclose(got.double(), want.double(), atol=atol, rtol=rtol, equal_nan=True)
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


def _unchanged(after: Any, before: Any) -> bool:
    """Whether an input is exactly as it was (tensors and arrays compared element by element)."""
    import numpy as np
    import torch

    if isinstance(before, torch.Tensor):
        return isinstance(after, torch.Tensor) and after.shape == before.shape and torch.equal(after, before)
    if isinstance(before, np.ndarray):
        return isinstance(after, np.ndarray) and np.array_equal(after, before)
    if isinstance(before, (list, tuple)):
        return type(after) is type(before) and len(after) == len(before) and all(map(_unchanged, after, before))
    if callable(before):
        return True
    return after == before


def show(value: Any) -> str:
    """A short text of a value: small tensors and arrays in full (4 decimals), large ones by shape and dtype."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        if value.numel() <= _SHOW_MAX:
            data = value.tolist() if not value.is_floating_point() else value.double().round(decimals=4).tolist()
            return f"tensor({data})"
        return f"tensor of shape {tuple(value.shape)}, {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, np.ndarray):
        if value.size <= _SHOW_MAX:
            return f"array({np.round(value, 4).tolist()})"
        return f"array of shape {value.shape}, {value.dtype}"
    if isinstance(value, (list, tuple)):
        if len(value) <= _SHOW_MAX and all(isinstance(v, (int, float, str, bool)) for v in value):
            text = repr(value)
            return text if len(text) <= 160 else text[:157] + "..."
        return "(" + ", ".join(show(v) for v in value[:4]) + (", ..." if len(value) > 4 else "") + ")"
    if isinstance(value, float):
        return f"{value:.6g}"
    if callable(value):
        return getattr(value, "__name__", "a function")
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _argument_names(fn: Callable, n: int) -> list[str]:
    """The names of fn's first n parameters (argument 1, 2, ... when they cannot be read)."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    return names[:n] + [f"argument {i + 1}" for i in range(len(names), n)]


def _describe_case(learner_fn: Callable, args: tuple) -> str:
    names = _argument_names(learner_fn, len(args))
    return "\n".join(f"     {name} = {show(value)}" for name, value in zip(names, args))


def _diagnose(mistakes: Mapping[str, Callable], learner_fn: Callable, cases: list[tuple], atol: float,
              rtol: float) -> str | None:
    """The hint of the known mistake that reproduces the learner's output on every case, if any.

    Every case counts, not only the failed one: two mistakes may agree on one case and differ on another.
    """
    outputs = []
    for args in cases:
        try:
            outputs.append((args, learner_fn(*copy.deepcopy(args))))
        except Exception:  # a case the learner's function cannot run says nothing about which mistake it is
            continue
    for hint, wrong_fn in mistakes.items():
        try:
            if all(_same(got, wrong_fn(*copy.deepcopy(args)), atol, rtol)[0] for args, got in outputs):
                return hint
        except Exception:  # a mistake that crashes where the learner's function did not is not the learner's
            continue
    return None


def check(learner_fn: Callable, reference_fn: Callable, cases: Iterable[tuple], *, name: str, hint: str,
          mistakes: Mapping[str, Callable] | None = None, atol: float = 1e-5, rtol: float = 1e-4) -> bool | None:
    """Run both functions on every case and report ✅ / ❌ (with the case and a hint) or ⏭ (not attempted).

    Args:
        learner_fn: the learner's implementation.
        reference_fn: the reference implementation.
        cases: argument tuples, e.g. random inputs and edge cases. Each function gets its own deep copy.
        name: the exercise's name, printed.
        hint: shown when the answer is wrong and matches no known mistake.
        mistakes: {hint: wrong_fn}: common wrong answers; a learner's output equal to wrong_fn's gets its hint.
        atol, rtol: tolerances for floating-point outputs.
    Returns:
        True when every case matches, False at the first case that does not, None when skipped. Never raises.
    """
    cases = list(cases)
    for i, args in enumerate(cases):
        want = reference_fn(*copy.deepcopy(args))
        learner_args = copy.deepcopy(args)
        where = f"case {i + 1} of {len(cases)}"
        try:
            got = learner_fn(*learner_args)
        except NotImplementedError:
            print(f"⏭  {name}: not attempted yet — the notebook carries on with the reference.")
            return None
        except Exception as err:  # the learner's code may fail in any way; report it, don't raise
            print(f"❌ {name}: {where} raised {type(err).__name__}: {err}\n   inputs:\n"
                  f"{_describe_case(learner_fn, args)}\n   hint: {hint}")
            return False
        changed = [n for n, a, b in zip(_argument_names(learner_fn, len(args)), learner_args, args) if not _unchanged(a, b)]
        if changed:
            print(f"❌ {name}: {where}: your function changed its input {', '.join(changed)}.\n   inputs:\n"
                  f"{_describe_case(learner_fn, args)}\n   hint: {MUTATION_HINT}")
            return False
        ok, why = _same(got, want, atol, rtol)
        if not ok:
            likely = _diagnose(mistakes or {}, learner_fn, cases, atol, rtol)
            print(f"❌ {name}: {where}: {why}\n   inputs:\n{_describe_case(learner_fn, args)}\n"
                  f"   yours:    {show(got)}\n   expected: {show(want)}\n"
                  f"   hint: {likely if likely else hint}")
            return False
    print(f"✅ {name}: matches the reference on all {len(cases)} cases.")
    return True


def combine(*results: bool | None) -> bool | None:
    """One result of several checks: False if any failed, True if all passed, else None (some skipped)."""
    if any(r is False for r in results):
        return False
    return True if all(r is True for r in results) else None
