"""Placeholder until its issue lands: registered in setup.py, not yet implemented."""
from sceptre.resolvers import Resolver


class RulePriority(Resolver):
    def resolve(self):
        raise NotImplementedError("RulePriority is not implemented yet")
