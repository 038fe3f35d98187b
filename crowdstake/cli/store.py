"""The submission store service: `store serve`."""

from __future__ import annotations

import click

from crowdstake.cli import _options as options


@click.group()
def store():
    """The submission store service.

    Where participants upload predictions and the oracle publishes score tables."""


@store.command()
@click.option("--dir", "directory", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="where the store keeps its files")
@click.option("--host", default="127.0.0.1", metavar="HOST", help="the address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=8700, metavar="PORT", help="the port to listen on")
@click.option("--workers", type=options.WholeNumber(1), default=1, metavar="N",
              help="processes serving the directory, each making every check (default 1)")
@options.node
def serve(directory, host, port, workers, flags):
    """Serve the store over HTTP, until interrupted.

    FastAPI + uvicorn, with the round times, clock and committee of the node's chain. With
    --workers N, N processes share the directory (the used signatures in its SQLite file)."""
    from crowdstake.store import serve as serve_store

    serve_store(directory, options.load(flags).node.contracts(), host, port, workers=workers)


COMMANDS = [store]
