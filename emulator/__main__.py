"""python -m emulator --port P --state-dir D [--lazy-postgres]"""
import argparse
import sys

from emulator import context, server


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m emulator",
                                     description="The local AWS emulator (moto + the layer)")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--state-dir", required=True,
                        help="folder for PostgreSQL's data, unpacked Lambda code, ...")
    parser.add_argument("--lazy-postgres", action="store_true",
                        help="start PostgreSQL with the first DBCluster instead of at once")
    parser.add_argument("--lambda-python", default=None,
                        help="Python that runs Lambda code (default: this one's base interpreter)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: not a TCP port")
    emulator = context.configure(args.state_dir, args.port, lambda_python=args.lambda_python)
    emulator.state_dir.mkdir(parents=True, exist_ok=True)
    return server.serve(emulator, start_postgres=not args.lazy_postgres)


if __name__ == "__main__":
    sys.exit(main())
