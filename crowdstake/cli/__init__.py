"""The `crowdstake` command: wallets, rounds, submissions, stakes, claims, the oracle, the keeper,
the submission store, the index and its dashboard, the fund's data, deploying, the fund's
operations, the token, dev-chain helpers, the demo.

Every user mistake prints one line saying what was wrong and what to do, and changes nothing:
`crowdstake: <message>` on stderr, exit 1 (2 for a command line that does not parse, 130 when
interrupted). The library's messages speak of settings; the table `FLAG_HINTS` (in `_errors`)
adds the flags that change them. Commands import what they use when they run: `crowdstake --help`
stays fast."""

from __future__ import annotations

import sys

import click

from crowdstake import __version__
from crowdstake.cli import data, demo, deploy, dev, diagnostics, fund, index, oracle, participant, store, token, web
from crowdstake.cli._errors import FLAG_HINTS, Refusal, explain, one_line  # noqa: F401 - the CLI's error surface
from crowdstake.errors import CrowdstakeError


class _Crowdstake(click.Group):
    """The root group, and the error handler of every command under it."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CrowdstakeError as e:  # a user mistake, or the world refusing: one clear line
            raise Refusal(explain(e, ctx.invoked_subcommand)) from None
        except KeyboardInterrupt:
            raise Refusal("interrupted", 130) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        prog_name = prog_name or "crowdstake"
        if not standalone_mode:  # the caller handles the exceptions
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:  # `crowdstake`, `crowdstake wallet`: the help
            e.show()
            code = e.exit_code
        except click.ClickException as e:
            one_line(e).show()
            code = e.exit_code
        except click.Abort:  # interrupted outside a command
            Refusal("interrupted", 130).show()
            code = 130
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Crowdstake, name="crowdstake",
             context_settings={"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 110})
@click.version_option(__version__, "--version", prog_name="crowdstake", message="%(prog)s %(version)s",
                      help="show the version and exit")
def main():
    """A staked prediction tournament on Ethereum: wallets, rounds, submissions, stakes, claims;
    the oracle, the keeper, the submission store, the fund's data and operations, deploying, the
    token, dev-chain helpers, and a demo season.

    Each setting comes from its flag, else its environment variable (CROWDSTAKE_*, named in each
    option's help), else crowdstake.toml in the working directory (or $CROWDSTAKE_CONFIG), else
    its default."""


for _area in (participant, diagnostics, oracle, store, index, web, data, deploy, fund, token, dev, demo):
    for _command in _area.COMMANDS:
        main.add_command(_command)
