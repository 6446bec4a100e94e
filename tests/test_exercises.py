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
