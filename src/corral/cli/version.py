"""`corral version`."""

from __future__ import annotations

import typer

from corral import __version__


def version() -> None:
    """Print corral's version and its inference engine's."""
    import llama_cpp

    typer.echo(f"corral {__version__} (llama-cpp-python {llama_cpp.__version__})")
