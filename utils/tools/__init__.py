"""Command-line tools of the course: ``python -m utils.tools.build`` and
``python -m utils.tools.selfcheck``."""
