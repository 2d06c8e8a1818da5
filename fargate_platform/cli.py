"""The `fargate-platform` command: operations that are not a Sceptre launch.

Each subcommand lives in its own module exposing `add_parser(subparsers)`;
the parser it adds sets `func`, called with the parsed arguments.
"""
import argparse
import importlib
import sys

SUBCOMMAND_MODULES = [
    "fargate_platform.purge",
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
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
