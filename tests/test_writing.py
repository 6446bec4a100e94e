"""The learner's edition: reading budgets and the shape of learner-facing text (shared/WRITING.md).

Words are counted as `len(re.findall(r"\\w+", text))` over markdown cells. A notebook's body is everything before its
first Summary / Questions / Exercises / What you should see heading; those end sections come after it.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
END = re.compile(r"(?m)^#{1,3} (Summary|Questions|Exercises|What you should see)")
BODY_WORDS, END_WORDS, COURSE_WORDS = 2300, 1200, 24000  # 01-08 together
TOY_NOTE = "**In the toy world.**"  # the one marked note per notebook on toy-world specifics a learner must know


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def markdown(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]


def body_and_end(path: Path) -> tuple[int, int]:
    body = end = 0
    seen = False
    for text in markdown(path):
        seen = seen or bool(END.search(text))
        if seen:
            end += words(text)
        else:
            body += words(text)
    return body, end


def section(path: Path, heading: str) -> str:
    text = "\n\n".join(markdown(path))
    if heading not in text:
        return ""
    return re.split(r"(?m)^## ", text.split(heading, 1)[1], maxsplit=1)[0]


def test_word_counting_splits_body_and_end(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": ["# Title\n", "one two"]},
                    {"cell_type": "code", "source": ["x = 1  # not counted"]},
                    {"cell_type": "markdown", "source": ["## Summary\n", "three"]},
                    {"cell_type": "markdown", "source": ["## More exercises\n", "four five"]}]}
    path = tmp_path / "99_x.ipynb"
    path.write_text(json.dumps(nb))
    assert body_and_end(path) == (3, 6)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reading_budget(path):
    body, end = body_and_end(path)
    assert body <= BODY_WORDS, f"{path.name}: body has {body} words of markdown, the budget is {BODY_WORDS}"
    assert end <= END_WORDS, f"{path.name}: summary, questions, exercises and what-you-should-see have {end} words, " \
                             f"the budget is {END_WORDS}"


def test_course_reading_budget():
    counts = {p.stem[:2]: sum(body_and_end(p)) for p in NOTEBOOKS if p.stem[:2] <= "08"}
    assert sum(counts.values()) <= COURSE_WORDS, f"notebooks 01-08 have {sum(counts.values())} words: {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_never_names_a_test_file(path):
    for text in markdown(path):
        found = re.search(r"\btests?/\w+", text)
        assert not found, f"{path.name} names {found.group(0)!r}: learner-facing text does not cite the test suite"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_lab_log_in_markdown(path):
    for text in markdown(path):
        for phrase in (r"\bmeasured on (a|the|this) .*machine", r"\bseeds? 0[,–-]", r"\bshared 2-core\b", r"\bCI\b"):
            found = re.search(phrase, text, re.I)
            assert not found, f"{path.name}: {found.group(0)!r} is the course's lab log; it belongs in docs/teaching-notes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_time_line_under_the_title(path):
    first = markdown(path)[0]
    assert first.lstrip().startswith("# "), f"{path.name}: the first cell must start with the title"
    line = next((ln for ln in first.splitlines() if ln.startswith("⏱")), None)
    assert line, f"{path.name}: no time line (a line starting with ⏱) in the title cell"
    assert "tiny" in line and "full" in line and "estimate" in line, f"{path.name}: the time line gives tiny and " \
                                                                     f"full, full marked as an estimate: {line}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_questions_are_few_and_short(path):
    questions = re.findall(r"<details><summary>(.*?)</summary>(.*?)</details>", section(path, "## Questions"), re.S)
    assert 1 <= len(questions) <= 6, f"{path.name}: {len(questions)} questions, at most 6"
    for title, answer in questions:
        assert words(answer) <= 120, f"{path.name}: the answer to {title.strip()!r} has {words(answer)} words, at most 120"


def test_no_question_is_asked_twice_in_the_course():
    seen = {}
    for path in NOTEBOOKS:
        for title in re.findall(r"<summary>\d+\.\s*(.*?)</summary>", section(path, "## Questions"), re.S):
            key = " ".join(re.findall(r"\w+", title.lower()))
            assert key not in seen, f"{path.name} asks {title!r}, already asked in {seen[key]}"
            seen[key] = path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_at_most_one_short_toy_world_note(path):
    notes = [part for text in markdown(path) for part in text.split("\n\n") if TOY_NOTE in part]
    assert len(notes) <= 1, f"{path.name} has {len(notes)} toy-world notes; keep one, the rest go to the teaching notes"
    for note in notes:
        assert words(note) <= 120, f"{path.name}: the toy-world note has {words(note)} words, at most 120"


def test_teaching_notes_exist_and_the_readme_links_them():
    guide = ROOT / "docs" / "teaching-notes.md"
    assert guide.exists(), "the teacher's guide docs/teaching-notes.md is missing"
    assert "docs/teaching-notes.md" in (ROOT / "README.md").read_text()
    text = guide.read_text()
    for path in NOTEBOOKS:
        assert path.stem[:2] in text, f"the teacher's guide has nothing on notebook {path.stem[:2]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_has_no_escaped_quotes(path):
    """A `\\'` in markdown renders as a backslash and a quote (left by a script that escaped a string twice)."""
    for text in markdown(path):
        assert "\\'" not in text, f"{path.name}: {text[max(0, text.index(chr(92) + chr(39)) - 40):][:60]!r}"
