import torch

from rlhf_helpers.checkers.core import check


def square(x):
    return x * x


def test_accepts_the_reference(capsys):
    assert check(square, square, [(2.0,), (torch.ones(3),)], name="sq", hint="h") is True
    assert "✅" in capsys.readouterr().out


def test_rejects_a_wrong_answer_with_the_hint(capsys):
    assert check(lambda x: x + x, square, [(2.0,), (3.0,)], name="sq", hint="multiply x by itself") is False
    out = capsys.readouterr().out
    assert "❌" in out and "case 2" in out and "multiply x by itself" in out


def test_skipped_exercise_is_not_an_error(capsys):
    def todo(x):
        raise NotImplementedError

    assert check(todo, square, [(1.0,)], name="sq", hint="h") is None  # None: a cell shows no bare False
    assert "⏭" in capsys.readouterr().out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    assert check(lambda x: 1 / 0, square, [(1.0,)], name="sq", hint="h") is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_tensor_shape_dtype_and_tuple_mismatches(capsys):
    ref = lambda: torch.zeros(2, 3)  # noqa: E731
    assert not check(lambda: torch.zeros(3, 2), ref, [()], name="t", hint="h")
    assert "shape" in capsys.readouterr().out
    assert not check(lambda: torch.zeros(2, 3) + 1e-3, ref, [()], name="t", hint="h")
    assert check(lambda: torch.zeros(2, 3) + 1e-7, ref, [()], name="t", hint="h")
    assert not check(lambda: (1.0, 2.0), lambda: (1.0, 2.5), [()], name="t", hint="h")
    assert not check(lambda: torch.tensor([1, 2]), lambda: torch.tensor([1, 3]), [()], name="t", hint="h")


def test_each_call_gets_its_own_inputs_and_in_place_changes_fail(capsys):
    """An answer that writes into its input must not fool the reference (run first, on its own copy)."""
    def reference(x):
        return x * 2

    def in_place_correct(x):
        x *= 2
        return x

    x = torch.tensor([1.0, 2.0])
    assert check(in_place_correct, reference, [(x,)], name="double", hint="h") is False
    out = capsys.readouterr().out
    assert "changed its input x" in out and "must not modify its inputs" in out
    assert torch.equal(x, torch.tensor([1.0, 2.0]))  # the caller's case is untouched

    def poisons_the_input(x):  # writes the reference's answer into the input, then returns it
        x.copy_(x * 2)
        return x.clone()

    assert check(poisons_the_input, reference, [(x,)], name="double", hint="h") is False


def test_a_failed_case_shows_its_inputs_both_outputs_and_a_named_mistake(capsys):
    def added_instead(x):
        return x + x

    result = check(added_instead, square, [(torch.tensor([3.0, 1.0]),)], name="sq", hint="generic hint",
                   mistakes={"you added x to itself": added_instead})
    out = capsys.readouterr().out
    assert result is False
    assert "x = tensor([3.0, 1.0])" in out and "yours:    tensor([6.0, 2.0])" in out
    assert "expected: tensor([9.0, 1.0])" in out
    assert "you added x to itself" in out and "generic hint" not in out
    assert check(lambda x: x - 1, square, [(torch.tensor([3.0]),)], name="sq", hint="generic hint",
                 mistakes={"you added x to itself": added_instead}) is False
    assert "generic hint" in capsys.readouterr().out  # no known mistake matches: the general hint


def test_large_inputs_are_shown_by_shape():
    from rlhf_helpers.checkers.core import show

    assert show(torch.zeros(10, 10)) == "tensor of shape (10, 10), float32"
    assert show(torch.tensor([1, 2])) == "tensor([1, 2])"


# --------------------------------------------------------------------------- answers that must not pass
class AlwaysEqual(torch.Tensor):
    """A cheat: a tensor subclass whose comparisons always succeed."""

    def __eq__(self, other):
        return True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.equal, torch.allclose):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


class FakesItsClass:
    """A cheat that claims to be a tensor; torch functions given it could crash the process."""

    @property
    def __class__(self):
        return torch.Tensor

    shape = torch.Size([3])


def test_a_tensor_subclass_or_an_object_faking_its_class_fails(capsys):
    ref = lambda x: x * 2  # noqa: E731
    x = torch.tensor([1.0, 2.0, 3.0])
    assert check(lambda x: torch.zeros(3).as_subclass(AlwaysEqual), ref, [(x,)], name="t", hint="h") is False
    assert "subclass" in capsys.readouterr().out
    assert check(lambda x: FakesItsClass(), ref, [(x,)], name="t", hint="h") is False
    assert "plain" in capsys.readouterr().out


def test_integer_answers_must_be_integers():
    labels = lambda ids: ids.masked_fill(ids == 0, -100)  # noqa: E731
    ids = torch.tensor([[5, 0, 7]])
    assert check(lambda ids: labels(ids).float(), labels, [(ids,)], name="t", hint="h") is False
    assert check(lambda ids: torch.where(ids == 0, -100, ids), labels, [(ids,)], name="t", hint="h") is True
    mask = lambda ids: ids != 0  # noqa: E731
    assert check(lambda ids: (ids != 0).long(), mask, [(ids,)], name="t", hint="h") is False


def test_nan_or_inf_in_the_answer_fails_even_where_comparisons_would_not_notice(capsys):
    ref = lambda x: x.exp()  # noqa: E731
    bad = lambda x: torch.where(x > 0, torch.tensor(float("nan")), x.exp())  # noqa: E731
    assert check(bad, ref, [(torch.tensor([1.0, -1.0]),)], name="t", hint="h") is False
    assert "NaN" in capsys.readouterr().out
    assert check(lambda x: float("nan"), lambda x: 1.0, [(0,)], name="t", hint="h") is False


def test_a_forgotten_mean_is_named_not_reported_as_a_checker_error(capsys):
    ref = lambda x: x.mean()  # noqa: E731
    assert check(lambda x: x, ref, [(torch.ones(4),)], name="t", hint="h") is False
    out = capsys.readouterr().out
    assert "shape (4,)" in out and ".mean()" in out
    assert check(lambda x: x, lambda x: float(x.mean()), [(torch.ones(4),)], name="t", hint="h") is False
    out = capsys.readouterr().out
    assert "shape (4,)" in out and ".mean()" in out and "only one element" not in out


def test_gradients_are_compared_where_the_notebook_trains_through_the_answer(capsys):
    def ref(a, b):
        return (a * b).sum()

    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, -1.0])
    detached = lambda a, b: (a * b.detach()).sum()  # noqa: E731  same gradient w.r.t. a: only b's is lost
    assert check(detached, ref, [(a, b)], name="t", hint="h", grad_args=(0,)) is True
    assert check(detached, ref, [(a, b)], name="t", hint="h", grad_args=(0, 1)) is False
    assert "gradient with respect to b" in capsys.readouterr().out
    as_number = lambda a, b: torch.tensor((a * b).sum().item())  # noqa: E731
    assert check(as_number, ref, [(a, b)], name="t", hint="h", grad_args=(0,)) is False
    assert "carries no gradient" in capsys.readouterr().out
    python_float = lambda a, b: float((a * b).sum())  # noqa: E731
    assert check(python_float, ref, [(a, b)], name="t", hint="h", grad_args=(0,)) is False
    written_differently = lambda a, b: torch.dot(b, a)  # noqa: E731
    assert check(written_differently, ref, [(a, b)], name="t", hint="h", grad_args=(0, 1)) is True
    assert "values and gradients" in capsys.readouterr().out
