"""``python -m trustwatch``: the same as the ``trustwatch`` command."""

from trustwatch.cli.main import entry_point

entry_point()
