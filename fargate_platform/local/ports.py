"""Ports on 127.0.0.1, the only interface the local platform listens on."""
import socket

LISTEN_HOST = "127.0.0.1"


def free_port():
    """A port nothing listens on now, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LISTEN_HOST, 0))
        return probe.getsockname()[1]


def port_free(port):
    """Whether nothing listens on 127.0.0.1:`port` (as a server binding it would see it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers do (the emulator, PostgreSQL): connections of a previous run in
        # TIME_WAIT do not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LISTEN_HOST, port))
        except OSError:
            return False
    return True
