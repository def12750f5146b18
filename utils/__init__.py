"""Shared code of the RNN course.

Every notebook starts with ``from utils.course import setup_notebook; DEVICE = setup_notebook()``.
Reference implementations live in ``utils.layers``, data in ``utils.text``, models and training
in ``utils.char_lm``, exercise checks in ``utils.checks``, figures in ``utils.plots`` and
``utils.widgets``, and the build and self-check tools in ``utils.tools``.
"""
