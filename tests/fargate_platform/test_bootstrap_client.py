"""The bootstrap function's client, on its own (tests/hooks/test_db_bootstrap.py runs it
through the hook against a local stand-in of Lambda's API, Inactive functions included)."""
import boto3

from fargate_platform import bootstrap_client

FUNCTION = "fp-test-test-db-bootstrap"


def test_unreadable_timeout_waits_as_long_as_lambda_allows():
    def denied(command, kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, command)

    assert bootstrap_client.function_timeout(denied, FUNCTION) == 900


def test_one_client_per_session_and_read_timeout():
    session, other_session = boto3.Session(region_name="us-east-1"), boto3.Session(region_name="us-east-1")
    client = bootstrap_client.lambda_client(session, 90)
    assert bootstrap_client.lambda_client(session, 90) is client
    assert bootstrap_client.lambda_client(session, 120) is not client
    assert bootstrap_client.lambda_client(other_session, 90) is not client
    assert client.meta.config.read_timeout == 90
    assert client.meta.config.retries["total_max_attempts"] == 1
