"""Test-session defaults: the tests and the notebooks (through nbval) run the tiny profile, offline."""

import json
import os

import pytest

os.environ["RLHF_PROFILE"] = "tiny"  # tests are defined on the tiny profile, even on a GPU machine
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A notebook's "what you should see" check (results.expect) raises, instead of printing ⚠️, when a tiny-profile
# value leaves its expected range; the kernels nbval starts inherit this.
os.environ["RLHF_STRICT_EXPECT"] = "1"
# One thread per process, as the tiny profile's notebooks use: two workers with two threads each on two cores wait on
# each other (the PPO-update checker test took 54 s beside the notebooks, 8 s alone). The environment variable reaches
# the processes the tests start (kernels, torchrun); `set_num_threads` this worker, whatever imported torch first.
os.environ["OMP_NUM_THREADS"] = "1"
import torch  # noqa: E402

torch.set_num_threads(1)

# Two pytest-xdist workers (`-n 2` in pyproject.toml). Each long, single-threaded group below runs whole on one
# worker, in order, while the other worker takes the rest: the notebooks must stay together and in order (a later
# notebook reads what an earlier one saved; nbval keeps one kernel per notebook), and a module-scoped fixture (the
# fake Hub, the wheel) is built once. Other tests are grouped by module. (xdist's own `--dist loadgroup` cannot be
# used: with pytest 9 its `xdist_group` marker no longer changes the test ids it schedules by.)
_GROUPS = {"test_full_offline.py": "full_offline", "test_colab.py": "colab", "test_distributed.py": "distributed"}


def _scope(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb") or "::ipynb" in nodeid:
        return "notebooks"
    return _GROUPS.get(path.rsplit("/", 1)[-1], path)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class CourseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _scope(nodeid)

    return CourseScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """The notebooks run in `runner.RUN_ORDER` (each after the stages it reads: 08 before 06), after the tests."""
    from rlhf_helpers.infra.runner import run_order_key

    # stable: the cells of one notebook keep their order
    items.sort(key=lambda item: run_order_key(item.path) if item.path.suffix == ".ipynb" else (-1, ""))


# What a learner must never see under a cell: library noise (silenced in rlhf_helpers.infra.quiet), raw terminal colour
# codes, and a config object's whole repr. Checked on every notebook cell nbval executes.
_NOISE = {"publisher trust check": "a message of the kernels package (silence it in rlhf_helpers.infra.quiet)",
          "\x1b[": "an ANSI escape code (terminal colours do not render in a notebook)",
          "LoraConfig(": "a whole LoraConfig repr (print the settings that matter instead)"}


def noise_in(outputs) -> list[str]:
    """The _NOISE descriptions found in a cell's outputs (nbformat output dicts)."""
    texts = []
    for out in outputs or []:
        texts.append(out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"]))
        for value in (out.get("data") or {}).values():
            texts.append(value if isinstance(value, str) else json.dumps(value))
    return [why for fragment, why in _NOISE.items() if any(fragment in t for t in texts)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    found = noise_in(getattr(item, "test_outputs", None))  # nbval keeps the outputs of the cell it ran
    if found:
        raise AssertionError(f"{item.name} printed {'; '.join(found)}")
    return result


@pytest.fixture(autouse=True, scope="module")
def _fresh_accelerate_state():
    """`accelerate` keeps one process-wide state (mixed precision among it): a module that made an fp16 or bf16
    Accelerator would otherwise hand its precision to the next module run by the same worker process. Reset between
    modules, not tests: a module's fixtures (a trainer built once) keep the state they were made with."""
    yield
    import sys

    if "accelerate.state" in sys.modules:
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=False)
