"""Reference solutions of the course's exercises, installed with the package as `rlhf_helpers.solutions`.

`nbNN_<name>.py`: the auto-checked exercises; `nbNN_open.py`: the open ones ("More exercises"). See README.md here.
"""
