"""trustwatch: find and stop abuse on a file-sharing platform as it happens.

The top level names the few things most programs need; everything else lives
in the package that owns it (see ``docs/architecture.md``).
"""

from importlib.metadata import PackageNotFoundError, version

from trustwatch.errors import TrustwatchError

try:
    __version__ = version("trustwatch")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["TrustwatchError", "__version__"]
