"""The version, in a module of its own so the data layer can name it without importing the probe."""

__version__ = "0.1.0"
