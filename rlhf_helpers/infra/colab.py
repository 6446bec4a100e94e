"""Running the notebooks outside a clone (Colab, pip): the repository URL, the install cell, Google Drive.

The course's repository URL lives in one place, `[project.urls]` of `pyproject.toml`. Every notebook's
*Open in Colab* badge and its install cell (the first code cell after the parameters) are written from it
by `python -m rlhf_helpers set-repo OWNER/NAME [--branch main]`, and a test checks that they agree.
The install cell runs in Colab only; the environment variable `RLHF_PIP_SPEC` replaces what it installs
(a fork, a local wheel). `keep_artifacts_on_drive` (called by that cell) keeps trained models on Google Drive.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE = "rlhf-course"
DRIVE_ARTIFACTS = "/content/drive/MyDrive/rlhf-course/artifacts"
_NAME = r"[A-Za-z0-9_.-]+"
# the Colab badge: https://colab.research.google.com/github/OWNER/NAME/blob/BRANCH/notebooks/01_sft.ipynb
BADGE_RE = re.compile(rf"https://colab\.research\.google\.com/github/({_NAME})/({_NAME})/blob/({_NAME})/notebooks/")
# the install cell's pip spec: rlhf-course@git+https://github.com/OWNER/NAME@BRANCH
INSTALL_RE = re.compile(rf"{PACKAGE}@git\+https://github\.com/({_NAME}?)/({_NAME}?)@({_NAME})\b")
# pyproject.toml, [project.urls]
URLS_RE = re.compile(rf'^(Repository|Notebooks) = "https://github\.com/({_NAME})/({_NAME}?)(?:/tree/({_NAME})/notebooks)?"$',
                     re.M)


def repository(root: Path) -> tuple[str, str, str]:
    """(owner, name, branch) from `root/pyproject.toml`'s `[project.urls]` (Repository and Notebooks)."""
    found = {m.group(1): m.groups()[1:] for m in URLS_RE.finditer((root / "pyproject.toml").read_text())}
    if set(found) != {"Repository", "Notebooks"}:
        raise ValueError(f"{root / 'pyproject.toml'} needs [project.urls] Repository = \"https://github.com/OWNER/NAME\" "
                         "and Notebooks = \"https://github.com/OWNER/NAME/tree/BRANCH/notebooks\": "
                         "run `python -m rlhf_helpers set-repo OWNER/NAME` to write them")
    owner, name, _ = found["Repository"]
    return owner, name, found["Notebooks"][2]


def course_urls(text: str) -> list[tuple[str, str, str, str]]:
    """Every badge and install URL in `text`, as (kind, owner, name, branch); kind is "badge" or "install"."""
    return ([("badge", *m.groups()) for m in BADGE_RE.finditer(text)]
            + [("install", *m.groups()) for m in INSTALL_RE.finditer(text)])


def rewrite(text: str, owner: str, name: str, branch: str) -> str:
    """`text` with every badge and install URL pointing at github.com/owner/name, branch `branch`."""
    text = BADGE_RE.sub(f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/notebooks/", text)
    return INSTALL_RE.sub(f"{PACKAGE}@git+https://github.com/{owner}/{name}@{branch}", text)


def set_repo(root: Path, repo: str, branch: str = "main") -> list[Path]:
    """Point pyproject, README and every notebook of the clone at `root` to github.com/`repo`; returns changed files.

    Args:
        repo: "OWNER/NAME" (a full https://github.com/OWNER/NAME URL is accepted too).
        branch: the branch the badges open and the install cells install from.
    """
    repo = repo.strip().removeprefix("https://github.com/").removesuffix(".git").strip("/")
    if not re.fullmatch(rf"{_NAME}/{_NAME}", repo) or not re.fullmatch(_NAME, branch):
        raise ValueError(f"expected OWNER/NAME and a branch name, e.g. set-repo alice/rlhf-course --branch main; "
                         f"got {repo!r} and {branch!r}")
    owner, name = repo.split("/")
    pyproject = root / "pyproject.toml"
    repository(root)  # a clear error when the [project.urls] lines are missing
    changed = []
    new = URLS_RE.sub(lambda m: f'{m.group(1)} = "https://github.com/{owner}/{name}'
                                + (f'/tree/{branch}/notebooks"' if m.group(1) == "Notebooks" else '"'),
                      pyproject.read_text())
    for path in [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]:
        old = path.read_text()
        text = rewrite(old, owner, name, branch)
        if path.name == "README.md":  # the README names the repository in prose too
            text = re.sub(rf"github\.com/{_NAME}/{_NAME}(?=`)", f"github.com/{owner}/{name}", text)
        if text != old:
            path.write_text(text)
            changed.append(path)
    if new != pyproject.read_text():
        pyproject.write_text(new)
        changed.append(pyproject)
    return changed


def keep_artifacts_on_drive(keep: bool, folder: str = DRIVE_ARTIFACTS) -> Path:
    """Colab: with keep=True, mount Google Drive and save artifacts in `folder` on it; returns the artifacts folder.

    Colab deletes its disk when the session ends, and later notebooks load earlier ones' models (07 needs
    01's, 06 needs 04's and 05's). On Drive they survive. With keep=False it only says where they go.
    An `RLHF_ARTIFACTS_DIR` already set wins.
    """
    from rlhf_helpers.infra.paths import artifacts_root

    if os.environ.get("RLHF_ARTIFACTS_DIR"):
        print(f"artifacts: {artifacts_root()} (RLHF_ARTIFACTS_DIR)")
    elif keep:
        from google.colab import drive

        drive.mount("/content/drive")
        Path(folder).mkdir(parents=True, exist_ok=True)
        os.environ["RLHF_ARTIFACTS_DIR"] = folder  # read by this kernel and the kernels it starts
        print(f"artifacts: {artifacts_root()} (on your Google Drive: kept between sessions)")
    else:
        print(f"artifacts: {artifacts_root()}. Colab deletes them when the session ends; to keep them, set "
              "KEEP_ARTIFACTS_ON_DRIVE = True in this cell (saves them to your Google Drive).")
    return artifacts_root()
