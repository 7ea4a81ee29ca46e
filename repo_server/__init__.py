"""repo-server: a district education-resource repository and distribution server."""

__version__ = "0.1.0"
__all__ = ["__version__"]
