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


def _is_tensor(x: Any) -> bool:
    """A genuine torch.Tensor: a subclass or an object that fakes its class (whose comparisons may always
    succeed, or crash the kernel inside torch) is not one. `type` reads the real class; `isinstance` can be fooled."""
    import torch

    return type(x) is torch.Tensor


def _shape_hint(got_shape: tuple, want_shape: tuple) -> str:
    if not want_shape and got_shape:
        return " (a single number was expected: did you forget .mean() or .sum()?)"
    return ""


def _same(got: Any, want: Any, atol: float, rtol: float) -> tuple[bool, str]:
    """Whether `got` matches `want` (tensors, arrays, numbers, containers) and, if not, why."""
    import torch

    if _is_tensor(want):
        if not _is_tensor(got):
            kind = "a subclass of torch.Tensor" if isinstance(got, torch.Tensor) else type(got).__name__
            if isinstance(got, (int, float)) and want.dim() == 0:
                return False, (f"expected a tensor, got a Python {kind}: keep the result a tensor (no .item() or "
                               f"float()), the notebook needs its gradient")
            return False, f"expected a plain torch.Tensor, got {kind}"
        if got.shape != want.shape:
            return False, f"shape {tuple(got.shape)} instead of {tuple(want.shape)}" + _shape_hint(
                tuple(got.shape), tuple(want.shape))
        if not want.is_floating_point():
            if got.dtype != want.dtype:
                what = "True/False values (torch.bool)" if want.dtype == torch.bool else \
                    f"integers ({str(want.dtype).replace('torch.', '')}: ids and labels index a vocabulary)"
                return False, f"dtype {str(got.dtype).replace('torch.', '')}: expected {what}"
            ok = torch.equal(got, want)
            return ok, "" if ok else f"{int((got != want).sum())} element(s) differ"
        if not got.is_floating_point():
            return False, f"dtype {str(got.dtype).replace('torch.', '')}: expected floating-point numbers"
        got64, want64 = got.detach().double(), want.detach().double()
        bad = ~torch.isfinite(got64) & torch.isfinite(want64)
        if bad.any():
            return False, f"{int(bad.sum())} element(s) are NaN or infinite where the answer is a number"
        ok = torch.allclose(got64, want64, atol=atol, rtol=rtol, equal_nan=True)
        diff = (got64 - want64).nan_to_num(0.0).abs().max().item() if want.numel() else 0.0
        return ok, "" if ok else f"max abs difference {diff:.3g}"
    if isinstance(want, bool) or want is None:
        ok = type(got) is type(want) and got == want
        return ok, "" if ok else f"{_safe_repr(got)} instead of {want!r}"
    if isinstance(want, (int, float)):
        if _is_tensor(got):
            if got.numel() != 1:
                return False, f"your function returned a tensor of shape {tuple(got.shape)}" + _shape_hint(
                    tuple(got.shape), ())
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)) and type(got).__module__ != "numpy":
            return False, f"expected a number, got {type(got).__name__}"
        try:
            value = float(got)
        except (TypeError, ValueError):
            return False, f"expected a number, got {type(got).__name__}"
        if not math.isfinite(value) and math.isfinite(want):
            return False, f"{value} where the answer is a number"
        ok = math.isclose(value, float(want), abs_tol=atol, rel_tol=rtol)
        return ok, "" if ok else f"{value:.6g} instead of {float(want):.6g}"
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return False, f"expected {len(want)} values, got {_safe_repr(got)}"
        for i, (g, w) in enumerate(zip(got, want)):
            ok, why = _same(g, w, atol, rtol)
            if not ok:
                return False, f"item {i}: {why}"
        return True, ""
    ok = type(got) is type(want) and got == want
    return ok, "" if ok else f"{_safe_repr(got)} instead of {want!r:.80}"


def _safe_repr(value: Any) -> str:
    try:
        text = show(value)
    except Exception:  # a learner's object whose repr fails says nothing useful
        text = f"an object of type {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


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

    if isinstance(value, torch.Tensor) and not _is_tensor(value):
        return f"an object of type {type(value).__name__} (not a plain tensor)"
    if _is_tensor(value):
        if value.numel() <= _SHOW_MAX:
            value = value.detach()
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
    try:
        text = repr(value)
    except Exception:  # a learner's object whose repr fails
        text = f"an object of type {type(value).__name__}"
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


def _tensors(value: Any) -> list:
    """The tensors in an output, in order (a tensor, or a tuple/list of them and other values)."""
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _tensors(v)]
    return [value] if _is_tensor(value) else []


def _gradient_problem(learner_fn: Callable, reference_fn: Callable, args: tuple, grad_args: Iterable[int],
                      atol: float, rtol: float) -> str | None:
    """Why the learner's gradients differ from the reference's w.r.t. args[i], i in grad_args (None if they agree).

    Both outputs are reduced with the same random weights, so every output element's gradient counts.
    """
    import torch

    def run(fn):
        call = list(copy.deepcopy(args))
        leaves = {}
        for i in grad_args:
            leaves[i] = call[i] = call[i].detach().clone().requires_grad_(True)
        return fn(*call), leaves

    want, want_leaves = run(reference_fn)
    got, got_leaves = run(learner_fn)
    pairs = [(w, g) for w, g in zip(_tensors(want), _tensors(got)) if w.requires_grad]
    gen = torch.Generator().manual_seed(0)
    weights = [torch.rand(w.shape, generator=gen, dtype=torch.float64) + 0.5 for w, _ in pairs]
    if any(not g.requires_grad for _, g in pairs):
        return ("your result carries no gradient, and the notebook trains through this function: don't use "
                ".item(), float(), .detach(), .numpy() or torch.no_grad() on the way")
    names = _argument_names(learner_fn, len(args))
    want_grads = torch.autograd.grad(sum((w.double() * k).sum() for (w, _), k in zip(pairs, weights)),
                                     list(want_leaves.values()), allow_unused=True)
    got_grads = torch.autograd.grad(sum((g.double() * k).sum() for (_, g), k in zip(pairs, weights)),
                                    list(got_leaves.values()), allow_unused=True)
    for i, w, g in zip(want_leaves, want_grads, got_grads):
        w = torch.zeros_like(want_leaves[i]) if w is None else w
        g = torch.zeros_like(got_leaves[i]) if g is None else g
        if not torch.isfinite(g).all():
            return f"the gradient with respect to {names[i]} has NaN or infinite values"
        if not torch.allclose(g.double(), w.double(), atol=atol, rtol=rtol):
            diff = (g.double() - w.double()).abs().max().item()
            return (f"your values are right but the gradient with respect to {names[i]} is not (max abs difference "
                    f"{diff:.3g}): is part of the computation detached (.detach(), .item(), a tensor rebuilt from "
                    f"numbers), or is a term that should carry gradient held constant?")
    return None


def call_learner(name: str, where: str, fn: Callable, *args, details: str = "") -> tuple[bool | None, Any]:
    """Call a learner's function the way every checker does: never raise.

    Returns (True, result); (None, None) after printing ⏭ when it still raises NotImplementedError; (False, None)
    after printing ❌ with the error, `where` (e.g. "case 2 of 4") and `details` (inputs, a hint) appended.
    """
    try:
        return True, fn(*args)
    except NotImplementedError:
        print(f"⏭  {name}: not attempted yet — the notebook carries on with the reference.")
        return None, None
    except Exception as err:  # the learner's code may fail in any way; report it, don't raise
        print(f"❌ {name}: {where} raised {type(err).__name__}: {err}{details}")
        return False, None


def check(learner_fn: Callable, reference_fn: Callable, cases: Iterable[tuple], *, name: str, hint: str,
          mistakes: Mapping[str, Callable] | None = None, atol: float = 1e-5, rtol: float = 1e-4,
          grad_args: Iterable[int] = ()) -> bool | None:
    """Run both functions on every case and report ✅ / ❌ (with the case and a hint) or ⏭ (not attempted).

    Args:
        learner_fn: the learner's implementation.
        reference_fn: the reference implementation.
        cases: argument tuples, e.g. random inputs and edge cases. Each function gets its own deep copy.
        name: the exercise's name, printed.
        hint: shown when the answer is wrong and matches no known mistake.
        mistakes: {hint: wrong_fn}: common wrong answers; a learner's output equal to wrong_fn's gets its hint.
        atol, rtol: tolerances for floating-point outputs (and gradients).
        grad_args: positions of float-tensor arguments the notebook differentiates through (a loss, a reward):
            the learner's gradients with respect to them must equal the reference's, not only the values.
    Returns:
        True when every case matches, False at the first case that does not, None when skipped. Never raises.
    """
    cases = list(cases)
    grad_args = tuple(grad_args)
    for i, args in enumerate(cases):
        want = reference_fn(*copy.deepcopy(args))
        learner_args = copy.deepcopy(args)
        where = f"case {i + 1} of {len(cases)}"
        status, got = call_learner(name, where, learner_fn, *learner_args,
                                   details=f"\n   inputs:\n{_describe_case(learner_fn, args)}\n   hint: {hint}")
        if status is not True:
            return status
        changed = [n for n, a, b in zip(_argument_names(learner_fn, len(args)), learner_args, args) if not _unchanged(a, b)]
        if changed:
            print(f"❌ {name}: {where}: your function changed its input {', '.join(changed)}.\n   inputs:\n"
                  f"{_describe_case(learner_fn, args)}\n   hint: {MUTATION_HINT}")
            return False
        try:
            ok, why = _same(got, want, atol, rtol)
        except Exception as err:  # reading the learner's output failed: that is about the output, not the checker
            ok, why = False, f"its output could not be read ({type(err).__name__}: {err})"
        if not ok:
            likely = _diagnose(mistakes or {}, learner_fn, cases, atol, rtol)
            print(f"❌ {name}: {where}: {why}\n   inputs:\n{_describe_case(learner_fn, args)}\n"
                  f"   yours:    {_safe_repr(got)}\n   expected: {show(want)}\n"
                  f"   hint: {likely if likely else hint}")
            return False
        if grad_args:
            try:
                problem = _gradient_problem(learner_fn, reference_fn, args, grad_args, atol, rtol)
            except Exception as err:
                problem = f"computing your function's gradient failed ({type(err).__name__}: {err})"
            if problem:
                print(f"❌ {name}: {where}: {problem}\n   inputs:\n{_describe_case(learner_fn, args)}")
                return False
    print(f"✅ {name}: matches the reference on all {len(cases)} cases" + (" (values and gradients)." if grad_args else "."))
    return True


def combine(*results: bool | None) -> bool | None:
    """One result of several checks: False if any failed, True if all passed, else None (some skipped)."""
    if any(r is False for r in results):
        return False
    return True if all(r is True for r in results) else None
