"""The `fargate-platform` command: operations that are not a Sceptre launch.

Each subcommand lives in its own module exposing `add_parser(subparsers)`;
the parser it adds sets `func`, called with the parsed arguments. An error the user
can act on (a PlatformError, a Sceptre or AWS error) prints as one line, without a
traceback, and exits 1.
"""
import argparse
import importlib
import sys

SUBCOMMAND_MODULES = [
    "fargate_platform.purge",
    "fargate_platform.logs",
    "fargate_platform.status",
    "fargate_platform.local.commands",
]


def build_parser():
    parser = argparse.ArgumentParser(prog="fargate-platform")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError
    from sceptre.exceptions import SceptreException

    from fargate_platform.errors import PlatformError

    try:
        return args.func(args) or 0
    except (PlatformError, SceptreException, BotoCoreError, ClientError) as error:
        message = " ".join(str(error).split())  # one line, whatever the message held
        print(f"fargate-platform {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
