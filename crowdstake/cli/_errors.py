"""How the CLI shows an error: one line, `crowdstake: <message>` on stderr, and an exit code
(`Refusal`), never a stack trace. A library error names no flag; when it is about something the
user gives, its `setting` (and `hint_values`) pick the CLI's words for it here, in `FLAG_HINTS`,
which `explain` adds to the message. A leaf module: the commands import it, it imports none."""

from __future__ import annotations

import click

from crowdstake.errors import CrowdstakeError, StoreUnavailable

# The flags that change a setting a library error names (`CrowdstakeError.setting`), formatted
# with its `hint_values`. A dict picks by the top-level command run ("" for the others).
FLAG_HINTS: dict[str, str | dict[str, str]] = {
    "store": "pass --store URL or a directory, or set CROWDSTAKE_STORE",
    "wallet": "pass --wallet NAME or --key-env VAR, or set CROWDSTAKE_WALLET; `crowdstake wallet list` shows the wallets",
    "node": "check --rpc-url / --network",
    "deployments": "pass --deployments DIR, or set CROWDSTAKE_DEPLOYMENTS",
    "members": "pass --members ADDR,ADDR,...",
    "role_holders": "pass --members ADDR,ADDR,..., and --operator, --guardian, --admin, --treasury",
    "admin": "check --admin",
    "operator": "check --operator",
    "guardian": "check --guardian",
    "treasury": "check --treasury",
    "eth": "check --eth",
    "tokens": "check --tokens (0 sends none)",
    "eth_or_tokens": "pass --eth or --tokens above 0",
    "out": "check --out",
    "workers": "pass --workers 1 or more to `crowdstake store serve`",
    "targets": "check --targets DIR",
    "restake_into": "`crowdstake submit --round {round} --model {model} FILE`, or leave out --restake-into",
    "to_balance": "`crowdstake pay --to-balance`",
    "claim": "`crowdstake claim --round {round}`",
    "index_file": {"index": "pass another --db FILE", "": "pass another --index FILE"},
    "index_build": "`crowdstake index --db {path}`",
    "page_blocks": "pass a smaller --page-blocks",
    "dataset_dir": "`crowdstake data download --round R --out DIR` writes one",
}
_STORE_HINT_ON_UNREACHABLE = "check --store"


def explain(error: CrowdstakeError, command: str | None = None) -> str:
    """The error's message, with the flags to change when it is about a setting (`command`: the
    top-level command that raised it, for a setting whose flag differs between commands)."""
    hint = FLAG_HINTS.get(error.setting)
    if isinstance(hint, dict):
        hint = hint.get(command or "", hint[""])
    if isinstance(error, StoreUnavailable) and error.setting == "store":
        hint = _STORE_HINT_ON_UNREACHABLE
    return f"{error} ({hint.format(**error.hint_values)})" if hint else str(error)


class Refusal(click.ClickException):
    """One line on stderr, `crowdstake: <message>`, and an exit code; no stack trace."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"crowdstake: {self.format_message()}", file=file, err=True)


def one_line(error: click.ClickException) -> Refusal:
    """click's own errors (a bad option, a missing argument) as one line, with where to look."""
    if isinstance(error, Refusal):
        return error
    message = " ".join(error.format_message().split())
    if isinstance(error, click.UsageError) and error.ctx is not None:
        message = f"{message.rstrip('.')} (see `{error.ctx.command_path} --help`)"
    return Refusal(message, error.exit_code)
