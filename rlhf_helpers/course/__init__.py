"""What the notebooks teach from: one module per method or shared step (map: `rlhf_helpers/__init__.py`)."""
