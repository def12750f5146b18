"""Shared code of the RNN course, arranged by role (see utils/README.md for the map and the rules).

Every notebook starts with ``from utils.course import setup_notebook; DEVICE = setup_notebook()``.
Imports point down only: checks, viz -> analysis -> training -> models -> data -> layers, with
``course``, ``validate`` and ``gradcheck`` at the bottom; ``tools`` (build, self-check, execute,
pretraining commands) sits on top and may import anything.
"""

__version__ = "1.1.0"  # the course version: the only place it is written (pyproject.toml reads it)
