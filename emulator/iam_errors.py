"""How AWS answers a refused request, per protocol: the error code, HTTP status, body shape
and AWS's message naming the caller, the action, the resource and the reason."""
import json
import uuid
from urllib.parse import parse_qs


XML_SERVICES_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"


# -- the answers --------------------------------------------------------------------------

def protocol_of(environ, signature):
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if signature.service == "s3":
        return "s3"
    if signature.service == "ec2":
        return "ec2"
    if "Action" in parse_qs(environ.get("QUERY_STRING", "")) or environ.get(
            "CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return "query"
    return "rest-json"


def _xml(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def error_response(protocol, code, message, status=None, content_type=None):
    """(status line, headers, body) of an AWS error in `protocol`'s shape."""
    request_id = str(uuid.uuid4())
    if protocol == "json":
        status = status or 400
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", content_type or "application/x-amz-json-1.1")]
    elif protocol == "rest-json":
        status = status or 403
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    elif protocol == "ec2":
        status = status or 403
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>").encode()
        headers = [("Content-Type", "text/xml")]
    elif protocol == "s3":
        status = status or 403
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{_xml(message)}</Message><RequestId>{request_id}</RequestId>"
                f"<HostId>{request_id}</HostId></Error>").encode()
        headers = [("Content-Type", "application/xml")]
    else:  # query: IAM, STS, CloudFormation, ELBv2, RDS, ...
        status = status or 403
        body = (f'<ErrorResponse xmlns="{XML_SERVICES_NAMESPACE}"><Error><Type>Sender</Type>'
                f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
    headers += [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id),
                ("Content-Length", str(len(body)))]
    reasons = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
    return f"{status} {reasons.get(status, 'Error')}", headers, body


ACCESS_DENIED = {"json": "AccessDeniedException", "rest-json": "AccessDeniedException",
                 "s3": "AccessDenied", "query": "AccessDenied", "ec2": "UnauthorizedOperation"}
# AWS's answer to a key it does not know, by protocol: (code, HTTP status, message).
_INVALID_TOKEN = "The security token included in the request is invalid."
UNKNOWN_KEY = {
    "query": ("InvalidClientTokenId", 403, _INVALID_TOKEN),
    "json": ("UnrecognizedClientException", 400, _INVALID_TOKEN),
    "rest-json": ("UnrecognizedClientException", 403, _INVALID_TOKEN),
    "s3": ("InvalidAccessKeyId", 403,
           "The AWS Access Key Id you provided does not exist in our records."),
    "ec2": ("AuthFailure", 401, "AWS was not able to validate the provided access credentials"),
}


def denial_message(session_arn, denial, protocol):
    message = (f"User: {session_arn} is not authorized to perform: {denial.action} "
               f"on resource: {denial.resource} {denial.reason}")
    if protocol == "ec2":
        message = f"You are not authorized to perform this operation. {message}"
    return message
