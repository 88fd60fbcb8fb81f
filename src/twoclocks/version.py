"""The installed package's version, looked up once (summary.json records it with the others)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("twoclocks")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"
