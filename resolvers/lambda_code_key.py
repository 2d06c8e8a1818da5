"""Placeholder until its issue lands: registered in setup.py, not yet implemented."""
from sceptre.resolvers import Resolver


class LambdaCodeKey(Resolver):
    def resolve(self):
        raise NotImplementedError("LambdaCodeKey is not implemented yet")
