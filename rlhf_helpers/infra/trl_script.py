"""Run one of trl's own training scripts (sft, reward, dpo), then shut the process group down in a safe order.

    accelerate launch --multi_gpu --num_processes 2 -m rlhf_helpers.infra.trl_script dpo --config recipes/dpo_zephyr.yaml

This is `trl dpo --config ...` without the hang at exit: it parses the recipe with trl's own parser
(`trl.scripts.<command>.make_parser`) and calls trl's own `main`; nothing of the script is copied. The one
difference is the end. trl's scripts finish with `trainer.end()`, which destroys the process group while the
trainer still holds the DDP-wrapped model. DDP's reducer then becomes the last owner of the gloo process group,
and when the trainer is freed the reducer's destructor joins gloo's threads while holding the GIL; a gloo
thread that needs the GIL never finishes, so the process hangs after the model is saved
(pytorch/pytorch#190489; about one two-process CPU run in two with `trl dpo`). Here `trainer.end()` first drops
the DDP wrappers and collects them, and only then destroys the group from Python, which releases the GIL while
it waits (the same order as `rlhf_helpers.infra.train_ppo`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import weakref

COMMANDS = ("sft", "reward", "dpo")
RELEASED = "rlhf_helpers.infra.trl_script: DDP model released, destroying the process group"


def release_process_group(accelerator=None) -> None:
    """Drop `accelerator`'s references to its prepared (DDP) models, collect garbage, then destroy the process group.

    Call it after every reference you hold to a DDP-wrapped model is gone. Left to garbage collection, DDP's reducer
    can be the last owner of the gloo process group and deadlock in its destructor (see the module's docstring);
    destroying the group from Python while nothing else owns it releases the GIL while gloo's threads finish.
    """
    import torch

    if accelerator is not None:
        accelerator.free_memory()
    gc.collect()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def end_trainer(trainer) -> None:
    """`Trainer.end` in the safe order: finish the trackers, drop the DDP wrapper, collect it, destroy the group.

    Raises RuntimeError if something still holds the DDP-wrapped model (destroying the group then could hang).
    """
    wrapped = trainer.model_wrapped
    check = weakref.ref(wrapped) if wrapped is not trainer.model else None
    del wrapped
    for tracker in trainer.accelerator.trackers:
        tracker.finish()
    trainer.model_wrapped = trainer.model
    trainer.accelerator.free_memory()
    gc.collect()
    if check is not None and check() is not None:
        holders = [type(r).__name__ for r in gc.get_referrers(check())]
        raise RuntimeError(f"the DDP-wrapped model is still referenced (by {holders}); destroying the process "
                           "group now could hang at exit")
    trainer.accelerator.print(RELEASED)
    release_process_group(trainer.accelerator)


@contextlib.contextmanager
def safe_trainer_end():
    """While inside, `transformers.Trainer.end` (what trl's scripts call last) is `end_trainer`."""
    from transformers import Trainer

    original = Trainer.end
    Trainer.end = end_trainer
    try:
        yield
    finally:
        Trainer.end = original


def run(command: str, argv: list[str]) -> None:
    """Parse `argv` (e.g. ["--config", "recipe.yaml"]) with trl's parser for `command` and run trl's script."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")
    script = importlib.import_module(f"trl.scripts.{command}")
    parsed = script.make_parser(prog=f"python -m rlhf_helpers.infra.trl_script {command}").parse_args_and_config(
        args=argv, fail_with_unknown_args=False)
    with safe_trainer_end():
        script.main(*parsed)
    # transformers < 5.18: trl's script does not call trainer.end(); the trainer went when main returned, while
    # the group was still registered (so not last owned by the reducer): destroying it now is safe
    release_process_group()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlhf_helpers.infra.trl_script", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    args, rest = parser.parse_known_args(argv)
    run(args.command, rest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
