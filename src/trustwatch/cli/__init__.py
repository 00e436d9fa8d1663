"""The ``trustwatch`` command line."""

from trustwatch.cli.main import cli, main

__all__ = ["cli", "main"]
