"""Test-session defaults: the tests and the notebooks (through nbval) run the tiny profile, offline."""

import os

os.environ["RLHF_PROFILE"] = "tiny"  # tests are defined on the tiny profile, even on a GPU machine
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A notebook's "what you should see" check (results.expect) raises, instead of printing ⚠️, when a tiny-profile
# value leaves its expected range; the kernels nbval starts inherit this.
os.environ["RLHF_STRICT_EXPECT"] = "1"
