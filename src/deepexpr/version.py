"""The package version (a leaf module: every output's version stamp reads it)."""

__version__ = "0.1.0"
