"""The `fargate-platform` command (placeholder until the local platform issue lands)."""
import sys


def main(argv=None):
    print("fargate-platform: no commands yet", file=sys.stderr)
    return 2
