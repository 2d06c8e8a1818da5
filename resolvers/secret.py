"""Placeholder until its issue lands: registered in setup.py, not yet implemented."""
from sceptre.resolvers import Resolver


class Secret(Resolver):
    def resolve(self):
        raise NotImplementedError("Secret is not implemented yet")
