"""Records the AWS calls made from lambdas/ (tests/lambdas/test_role_permissions.py judges them).

    with AwsCallRecorder() as recorder:
        ...                      # run the functions' code
    recorder.calls               # [RecordedCall(function, file, service, operation, params)]
"""
import sys
from dataclasses import dataclass
from pathlib import Path

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"


@dataclass(frozen=True)
class RecordedCall:
    function: object  # "db_bootstrap", "admin_secret"; None: a shared helper called directly
    file: str  # the calling file, relative to lambdas/ ("db_bootstrap/bootstrap.py")
    service: str  # IAM prefix (botocore's signingName)
    operation: str  # "PutParameter"
    params: dict


class AwsCallRecorder:
    """Records every AWS call made from lambdas/, with botocore's before-parameter-build
    event of every botocore session created while it records (boto3's default one is made
    anew), and the calling file read from the stack."""

    def __init__(self):
        self.calls = []

    def __enter__(self):
        import boto3
        import botocore.handlers

        self._handler = ("before-parameter-build", self._record)
        botocore.handlers.BUILTIN_HANDLERS.append(self._handler)
        boto3.DEFAULT_SESSION = None
        return self

    def __exit__(self, *exc):
        import boto3
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.remove(self._handler)
        boto3.DEFAULT_SESSION = None

    def _record(self, params, model, **kwargs):
        inside = []  # frames in lambdas/, innermost first
        frame = sys._getframe(1)
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if LAMBDAS_DIR in path.parents:
                inside.append(path.relative_to(LAMBDAS_DIR))
            frame = frame.f_back
        if not inside:
            return
        # The function is the outermost folder of lambdas/ on the stack; shared/ is every function's.
        packages = [path.parts[0] for path in inside if len(path.parts) > 1 and path.parts[0] != "shared"]
        self.calls.append(RecordedCall(packages[-1] if packages else None, inside[0].as_posix(),
                                       model.service_model.signing_name, model.name, dict(params)))
