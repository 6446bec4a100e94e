"""Command line: `python -m rlhf_helpers run ...`, `download ...`, `build-toy-world` and `set-repo OWNER/NAME`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlhf_helpers", description="RLHF course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks headless, in order, and print a summary table")
    run.add_argument("notebooks", nargs="*", help="e.g. 01 or 01_sft (default: all, each after the stages it reads: 08 before 06)")
    run.add_argument("--profile", default=None, help="tiny or full (default: $RLHF_PROFILE, else by hardware)")
    run.add_argument("--out", default="runs", help="folder for run outputs (default: ./runs)")
    run.add_argument("--jobs", type=int, default=None,
                     help="notebooks run at once, each after the ones it loads (default: tiny 2 on a machine with two "
                          "or more cores, else 1; full 1, as its notebooks share one GPU)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="set a notebook parameter, e.g. -p PPO_ITERATIONS 2 -p OVERRIDES '{batch_size: 4}' "
                          "(VALUE is read as YAML)")
    download = sub.add_parser("download", help="fetch the models, datasets and evaluate modules of the full "
                                               "profile once, for offline runs (needs internet)")
    download.add_argument("notebooks", nargs="*", help="e.g. 01 04 (default: all)")
    download.add_argument("--dry-run", action="store_true", help="only list what would be fetched")
    build = sub.add_parser("build-toy-world", help="build (or rebuild) the tiny profile's offline toy world")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--force", action="store_true", help="rebuild even when a complete one exists")
    repo = sub.add_parser("set-repo", help="point every Colab badge and install cell at github.com/OWNER/NAME")
    repo.add_argument("repo", help="OWNER/NAME of your fork, e.g. alice/rlhf-course")
    repo.add_argument("--branch", default="main", help="branch the badges open and the install cells install (main)")
    repo.add_argument("--root", default=".", help="the clone to rewrite (default: the current folder)")
    args = parser.parse_args(argv)

    if args.command == "run":
        import yaml

        from rlhf_helpers.infra.profiles import default_profile
        from rlhf_helpers.infra.runner import run as run_notebooks

        parameters = {name: yaml.safe_load(value) for name, value in args.parameter}
        return run_notebooks(args.notebooks, args.profile or default_profile(), Path(args.out), parameters,
                             jobs=args.jobs)  # None: `runner.default_jobs`
    if args.command == "download":
        from rlhf_helpers.infra.download import download
        from rlhf_helpers.infra.runner import resolve_notebooks

        download([p.stem for p in resolve_notebooks(args.notebooks)], dry_run=args.dry_run)
        return 0
    if args.command == "set-repo":
        from rlhf_helpers.infra.colab import set_repo

        changed = set_repo(Path(args.root), args.repo, args.branch)
        print(f"{len(changed)} files now point at github.com/{args.repo} ({args.branch}):",
              *(str(p) for p in changed), sep="\n  ")
        return 0
    from rlhf_helpers.infra.toy import ensure_toy_world

    print(ensure_toy_world(args.seed, force=args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
