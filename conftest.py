"""Test-session defaults: the tests and the notebooks (through nbval) run the tiny profile, offline."""

import os

os.environ["RLHF_PROFILE"] = "tiny"  # tests are defined on the tiny profile, even on a GPU machine
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A notebook's "what you should see" check (results.expect) raises, instead of printing ⚠️, when a tiny-profile
# value leaves its expected range; the kernels nbval starts inherit this.
os.environ["RLHF_STRICT_EXPECT"] = "1"

# Two pytest-xdist workers (`-n 2 --dist loadgroup` in pyproject.toml): each long, single-threaded group below runs
# whole on one worker, in order, while the other worker takes the rest. The notebooks must stay together and in
# order (a later notebook reads what an earlier one saved); a module-scoped fixture (the fake Hub, the wheel) is
# built once only when its tests share a worker.
_GROUPS = {"notebooks": "notebooks", "test_full_offline.py": "full_offline", "test_colab.py": "colab",
           "test_distributed.py": "distributed"}


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        path = item.path
        group = _GROUPS.get("notebooks" if path.suffix == ".ipynb" else path.name)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
