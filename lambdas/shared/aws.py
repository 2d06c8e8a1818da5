"""The functions' AWS clients, and the one-line form of an AWS error."""
import os


def aws_client(service, connect_timeout=5, read_timeout=15, max_attempts=4):
    """A boto3 client with bounded timeouts and retries. The endpoint comes from the
    environment (AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL), which is how the
    local platform points the functions at its emulator; unset in AWS."""
    import boto3  # provided by the Lambda runtime; imported on first use
    from botocore.config import Config

    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"max_attempts": max_attempts, "mode": "standard"})
    return boto3.client(service, endpoint_url=endpoint or None, config=config)


def aws_error(error):
    """`Code: Message` of a botocore error (the type and text of anything else)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return f"{type(error).__name__}: {error}"
