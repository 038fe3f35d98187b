"""`crowdstake index`: follow a deployment's events into a SQLite file (crowdstake.index)."""

from __future__ import annotations

from pathlib import Path

import click

from crowdstake._human import count
from crowdstake.cli import _options as options

DEFAULT_CONFIRMATIONS = 5  # crowdstake.index.DEFAULT_CONFIRMATIONS (not imported at start-up: it pulls in web3)
DEFAULT_POLL = 12.0  # crowdstake.index.DEFAULT_POLL
DEFAULT_PAGE = 10_000  # crowdstake.chain.contracts.LOG_PAGE


def _say(progress) -> None:
    line = (f"indexed to block {progress.last}: {count(progress.events, 'event')} in {count(progress.pages, 'page')}, "
            f"{progress.seconds:.1f} s ({progress.events_per_second:,.0f} events/s)")
    if progress.rewound_to is not None:
        line += f"; a reorg: rewound to block {progress.rewound_to}"
    if progress.tables and any(progress.tables.values()):
        line += "; score tables " + ", ".join(f"{n} {k}" for k, n in progress.tables.items() if n)
    click.echo(line)


# Shared with `crowdstake web --follow`, which runs the same indexer.
confirmations_option = click.option(
    "--confirmations", type=options.WholeNumber(0), default=DEFAULT_CONFIRMATIONS,
    help="index only blocks this far below the head (a reorg shallower than that never reaches the index)")
poll_option = click.option("--poll", type=options.Seconds(), default=DEFAULT_POLL,
                           help="with --follow: seconds between looks at the head")
page_blocks_option = click.option(
    "--page-blocks", type=options.WholeNumber(1), default=DEFAULT_PAGE,
    help="blocks per eth_getLogs request, each committed as one transaction (lower it for a node that refuses wide "
         "ranges)")


@click.command()
@click.option("--db", "db", required=True, metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="the index file (SQLite), created when absent; one deployment per file")
@confirmations_option
@click.option("--follow", is_flag=True, help="keep following the head until interrupted (default: index up to "
                                             "the head once, then exit)")
@poll_option
@page_blocks_option
@options.node
@options.store
def index(db, confirmations, follow, poll, page_blocks, flags):
    """Follow a deployment's events into a SQLite file.

    Backfills from the deployment block in pages, then (--follow) the head, never closer to it
    than --confirmations blocks; a reorg below that is found and rewound. With --store, each
    round's published score table is fetched and checked against the voted hash (a missing one
    is tried again on the next pass). Safe to kill at any point: a run resumes from the last
    committed page. docs/index.md describes the file."""
    from crowdstake.index import Indexer, identity, open_index

    settings = options.load(flags)
    contracts = settings.node.contracts()
    store = options.open_store(settings, contracts)
    with open_index(db, identity(contracts), write=True) as opened:
        indexer = Indexer(contracts, opened, store, confirmations=confirmations, page=page_blocks)
        if follow:
            def news(progress) -> None:  # a line when something changed, not one per poll
                if progress.pages or progress.rewound_to is not None or (progress.tables or {}).get("stored"):
                    _say(progress)

            indexer.follow(poll, report=news, log=lambda line: click.echo(line, err=True))
        else:
            _say(indexer.sync())


COMMANDS = [index]
