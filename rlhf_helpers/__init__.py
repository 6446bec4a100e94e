"""Helpers for the RLHF course notebooks.

Each module is named after what it does and names the notebook that introduces it.
Nothing runs at import time.
"""

__version__ = "0.1.0"
