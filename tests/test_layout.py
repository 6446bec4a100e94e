"""The package's layout: three parts (course, checkers, infra), no import cycles, small modules."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rlhf_helpers"
PARTS = {"course", "checkers", "infra"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every rlhf_helpers module `path` imports, at the top or inside a function (a lazy import is still a
    dependency), with relative imports resolved."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rlhf_helpers")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            if base.startswith("rlhf_helpers"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}  # `from pkg import module`
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in files and m != name} for name, path in files.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt.startswith(node + ".") or node.startswith(nxt + ".") and nxt.count(".") < node.count("."):
                continue  # a package and its own modules (an __init__ that re-exports) are one unit
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_folder_shows_three_parts():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders == PARTS
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], f"modules outside the three parts: {loose}"


def test_the_package_map_names_every_course_module():
    doc = (PACKAGE / "__init__.py").read_text()
    missing = [p.stem for p in (PACKAGE / "course").glob("*.py") if p.stem != "__init__" and p.stem not in doc]
    assert not missing, f"rlhf_helpers/__init__.py does not map {missing}"


def test_one_checker_module_per_notebook_beside_its_solutions():
    checkers = {p.stem for p in (PACKAGE / "checkers").glob("nb*.py")}
    solutions = {p.stem for p in (PACKAGE.parent / "solutions").glob("nb*.py") if not p.stem.endswith("_open")}
    assert checkers == solutions
    notebooks = {p.stem[:2] for p in (PACKAGE.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {name[2:4] for name in checkers} == notebooks


def test_course_modules_do_not_import_the_checkers():
    edges = graph()
    leaks = {m: sorted(d for d in deps if d.startswith("rlhf_helpers.checkers"))
             for m, deps in edges.items() if m.startswith("rlhf_helpers.course")}
    assert not {m: d for m, d in leaks.items() if d}, leaks


def test_modules_stay_small():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 330}
    assert not long, f"modules over ~300 lines (split them by what they do): {long}"
