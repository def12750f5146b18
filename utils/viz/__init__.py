"""Figures and widgets: one module per family of pictures.

May import ``utils.analysis``, ``utils.training`` and everything below them; never ``checks``.
"""
