"""The `crowdstake` command. Subcommands grow with the package (oracle, participant, demo);
today: the version and the deployments this machine knows."""

from __future__ import annotations

import argparse
import json
import sys

from crowdstake import __version__
from crowdstake.chain import deployments_dir, load_deployment
from crowdstake.errors import CrowdstakeError


def _deployment(args: argparse.Namespace) -> None:
    if args.chain_id is None:
        found = sorted(deployments_dir().glob("*.json"))
        if not found:
            raise CrowdstakeError(
                f"no deployments in {deployments_dir()}: deploy with "
                "`brownie run scripts/deploy.py --network <network>` or set CROWDSTAKE_DEPLOYMENTS"
            )
        for path in found:
            print(path.stem)
        return
    print(json.dumps(load_deployment(args.chain_id), indent=2, sort_keys=True))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crowdstake", description=__doc__)
    parser.add_argument("--version", action="version", version=f"crowdstake {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    dep = commands.add_parser("deployment", help="list known deployments, or show one chain's")
    dep.add_argument("--chain-id", type=int, help="the chain whose deployment to show")
    dep.set_defaults(run=_deployment)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except CrowdstakeError as e:  # a user mistake: one clear line, no stack trace
        print(f"crowdstake: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
