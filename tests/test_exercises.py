import torch

from rlhf_helpers.exercises import check


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

    assert check(todo, square, [(1.0,)], name="sq", hint="h") is False
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
