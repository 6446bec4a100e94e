"""The exercise checkers: one module per notebook, and `core.check`, the machinery they share."""
