"""claude-bedrock: Claude on Amazon Bedrock, runnable anywhere Python runs.

The package is layered; dependencies point one way only:
wire (sans-I/O protocol) <- domain (catalog, validation, engines) <- service (ASGI)
<- adapters / client / cli / testing.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
