"""The functions' structured log (lambdas/shared/structured_log.py)."""
import json

from fargate_platform.lambdas.shared.structured_log import StructuredLog


def test_structured_log_masks_registered_values_and_secret_keys():
    import io

    stream = io.StringIO()
    log = StructuredLog(stream=stream, function="f")
    log.register_secret("abcd-1234")
    log.info("m", nested={"db_password": "x", "password_parameter": "/p/db/password", "note": "abcd-1234!"})
    record = json.loads(stream.getvalue())
    assert record["nested"] == {"db_password": "****", "password_parameter": "/p/db/password", "note": "****!"}
