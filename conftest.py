"""Repository-wide pytest settings: the nbval settings shared with the self-check."""
pytest_plugins = ["utils.tools.nbval_settings"]
