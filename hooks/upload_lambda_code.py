"""Placeholder until its issue lands: registered in setup.py, not yet implemented."""
from sceptre.hooks import Hook


class UploadLambdaCode(Hook):
    def run(self):
        raise NotImplementedError("UploadLambdaCode is not implemented yet")
