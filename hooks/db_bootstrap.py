"""Placeholder until its issue lands: registered in setup.py, not yet implemented."""
from sceptre.hooks import Hook


class DbBootstrap(Hook):
    def run(self):
        raise NotImplementedError("DbBootstrap is not implemented yet")
