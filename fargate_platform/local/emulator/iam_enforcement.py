"""Layer 5: IAM enforced, as AWS does, on the requests signed by roles' credentials.

moto's server authorizes nothing: any signature passes, whatever the caller's policies
say. Here every request reaching the emulator (server.EmulatorApp, before moto) is judged
by its signature's access key:

- the local AWS profile's key (aws_profile.DUMMY_KEY, "testing"): the operator, allowed
  (Sceptre, the hooks and resolvers act as the account's administrator);
- a key moto's STS issued for a role (the Lambda functions' credentials, lambda_runner,
  or any sts:AssumeRole answered by moto): every request of the call
  (aws_requests.requests_of: the call's own action on the resources it names, plus SSM's
  kms:Encrypt/kms:Decrypt for a SecureString) is decided by fargate_platform.iam_policy
  under the role as it is now in moto's IAM: its inline policies, its attached managed
  policies (default versions) and its permissions boundary, and, for a kms:* request on a
  key, the key's policy. A request the emulator cannot judge (an operation the Service
  Authorization Reference does not know, a resource it names that the request lacks, a
  condition key the evaluator does not decide) is denied, with the reason on stderr:
  never allowed silently;
- any other key, or a session token that is not the one issued with the key: refused as
  AWS refuses an unknown key (InvalidClientTokenId and its per-protocol variants).

A denial is answered as the service would: AccessDeniedException (JSON protocols,
HTTP 400; Lambda's REST API, HTTP 403 with x-amzn-ErrorType), AccessDenied (query/XML
protocols and S3, HTTP 403), UnauthorizedOperation (EC2, HTTP 403), with AWS's message
"User: <session ARN> is not authorized to perform: <action> on resource: <ARN> <reason>".

Unsigned requests (the emulator's own /_fargate_platform/ routes never reach this
module; anything else unsigned carries no identity) are left to moto. Signatures are not
verified (moto issues the secrets; only the key and the session token are checked), and
credentials do not expire. Resource policies other than KMS key policies (S3 bucket
policies, Lambda function policies), service control policies and session policies are
not evaluated; tag conditions see only the role's own tags (aws:PrincipalTag/*).
"""
import functools
import io
import json
import re
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from fargate_platform import aws_requests, iam_policy, service_authorization
from fargate_platform.local.aws_profile import DUMMY_KEY
from fargate_platform.local.emulator import api_calls

OPERATOR_KEY = DUMMY_KEY
_AUTHORIZATION = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_SIGV2 = re.compile(r"^AWS ([^:\s]+):")
# Actions AWS authorizes for every caller: "No permissions are required to perform this
# operation" (an explicit deny cannot stop them either).
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
XML_SERVICES_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"


class Unjudgeable(Exception):
    """A request the emulator cannot decide: denied, never allowed silently."""


# -- who signed ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Signature:
    access_key: str
    region: str
    service: str  # the credential scope's service: botocore's signingName
    session_token: str


def signature_of(environ):
    """The request's SigV4 signature (header or presigned query), or None if unsigned."""
    found = _AUTHORIZATION.search(environ.get("HTTP_AUTHORIZATION", ""))
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN", "")
    if not found:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = (query.get("X-Amz-Credential") or [""])[0]
        parts = credential.split("/")
        if len(parts) == 5 and parts[4] == "aws4_request":
            return Signature(parts[0], parts[2], parts[3],
                             token or (query.get("X-Amz-Security-Token") or [""])[0])
        legacy = _SIGV2.match(environ.get("HTTP_AUTHORIZATION", ""))
        if legacy:
            return Signature(legacy.group(1), "us-east-1", "s3", token)
        return None
    return Signature(found.group(1), found.group(2), found.group(3), token)


def assumed_role(access_key):
    """moto STS's AssumedRole for `access_key`, or None."""
    from moto.sts.models import sts_backends

    for per_account in list(sts_backends.values()):
        for backend in list(per_account.values()):
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                return role
    return None


def assume_role_for(role_arn, session_name, region, duration=43200):
    """Credentials of `role_arn` issued by moto's STS (as Lambda gets its function's):
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 5 and parts[4] else DEFAULT_ACCOUNT_ID
    backend = sts_backends[account][get_partition(region)]
    role = backend.assume_role(region_name=region, role_session_name=session_name[:64],
                               role_arn=role_arn, policy=None, duration=duration,
                               external_id=None)
    return {"AWS_ACCESS_KEY_ID": role.access_key_id,
            "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
            "AWS_SESSION_TOKEN": role.session_token}


# -- the role's policies, as they are now in moto ---------------------------------------

def _document(value):
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return json.loads(text)
        except ValueError:
            return json.loads(unquote(text))
    return value


@dataclass
class RolePolicies:
    identity: list
    boundary: object  # a policy document, or None when the role has no boundary
    tags: dict


def role_policies(role_arn):
    """The role's inline + attached managed policies and its permissions boundary; a role
    that no longer exists has none (everything is denied, as for a deleted role)."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    account, partition = parts[4], parts[1]
    backend = iam_backends[account][partition]
    role = next((r for r in list(backend.roles.values())
                 if r.arn == role_arn or r.name == role_arn.rsplit("/", 1)[-1]), None)
    if role is None:
        return RolePolicies([], None, {})
    identity = [_document(policy) for policy in list(role.policies.values())]
    identity += [_default_version(policy) for policy in list(role.managed_policies.values())]
    boundary = None
    if role.permissions_boundary_arn:
        policy = backend.managed_policies.get(role.permissions_boundary_arn)
        # A boundary that does not exist allows nothing (AWS refuses to set one).
        boundary = _default_version(policy) if policy is not None else {"Statement": []}
    tags = {tag["Key"]: tag["Value"] for tag in role.tags or [] if isinstance(tag, dict)} \
        if isinstance(role.tags, list) else {}
    return RolePolicies(identity, boundary, tags)


def _default_version(policy):
    for version in policy.versions:
        if version.is_default:
            return _document(version.document)
    return {"Statement": []}


class MotoKeys:
    """aws_requests' `keys`, from moto's KMS and SSM backends of one account and region."""

    def __init__(self, account, region):
        self.account, self.region = account, region

    def _kms(self):
        from moto.kms.models import kms_backends

        return kms_backends[self.account][self.region]

    def arn(self, key_id):
        try:
            return self._kms().describe_key(key_id).arn
        except Exception:  # noqa: BLE001 - an unknown key: judged by the ARN it names
            if key_id.startswith("arn:") and ":key/" in key_id:
                return key_id
            if re.fullmatch(r"[0-9a-fA-F-]{36}|mrk-[0-9a-f]{32}", key_id):
                return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"
            raise Unjudgeable(f"KMS key {key_id!r} does not exist") from None

    def of_parameter(self, name):
        from moto.ssm.models import ssm_backends

        try:
            found = ssm_backends[self.account][self.region].get_parameter(name)
        except Exception:  # noqa: BLE001 - absent: SSM answers ParameterNotFound itself
            return None
        if found is None or found.parameter_type != "SecureString":
            return None
        return self.arn(found.keyid or "alias/aws/ssm")

    def policy_of(self, key_arn):
        """The key's policy (None when moto does not have the key). An AWS managed key
        (alias/aws/<service>, which moto makes with its default policy) has AWS's policy
        for such keys: its service may use it for any caller of the account."""
        try:
            key = self._kms().keys.get(key_arn.rsplit("/", 1)[-1])
        except Exception:  # noqa: BLE001
            return None
        if key is None:
            return None
        managed = [alias for alias in getattr(key, "aliases", ()) if alias.startswith("alias/aws/")]
        if managed:
            return aws_managed_key_policy(managed[0].split("/")[2], self.account, self.region)
        return _document(key.policy) if key.policy else None


def aws_managed_key_policy(service, account, region):
    """The key policy AWS gives its managed key alias/aws/<service>."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                        "kms:ViaService": f"{service}.{region}.amazonaws.com"}}},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
         "Resource": "*"}]}


# -- what is asked ------------------------------------------------------------------------

def _body(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
    return body


def _flattened(pairs):
    """Query-protocol parameters as API parameters: Names.member.1 / SubnetId.1 -> lists."""
    params, lists = {}, {}
    for key, values in pairs.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[1] == "member" and parts[2].isdigit():
            lists.setdefault(parts[0], []).append((int(parts[2]), values[0]))
        elif len(parts) == 2 and parts[1].isdigit():
            lists.setdefault(parts[0], []).append((int(parts[1]), values[0]))
        else:
            params[key] = values[0]
    for name, members in lists.items():
        params.setdefault(name, [value for _, value in sorted(members)])
    return params


@functools.lru_cache(maxsize=None)
def _rest_operations(service):
    """[(method, path regex, literal query, required query/header members, name)] of a
    REST service, from botocore's model; [] for one botocore has no REST model for."""
    try:
        import botocore.session

        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # noqa: BLE001
        return []
    if model.protocol not in ("rest-json", "rest-xml"):
        return []
    found = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        path, _, query = operation.http["requestUri"].partition("?")
        pattern = "".join(
            f"(?P<{part[1:-2]}>.+)" if part.startswith("{") and part.endswith("+}")
            else f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{")
            else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", path) if part)
        literal = dict(item.partition("=")[::2] for item in query.split("&") if item
                       and not item.startswith("x-id="))
        required = []
        shape = operation.input_shape
        if shape is not None:
            for member in shape.required_members:
                location = shape.members[member].serialization.get("location")
                if location in ("querystring", "header"):
                    required.append((location, shape.members[member].serialization["name"]))
        found.append((operation.http["method"], re.compile(f"^{pattern}/?$"), literal,
                      required, name))
    return found


def _rest_call(service, environ):
    """(operation, URI parameters) of a REST request, or (None, {})."""
    method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
    host = environ.get("HTTP_HOST", "").split(":")[0]
    virtual = re.match(r"^(.+)\.s3[.-]", host) if service == "s3" else None
    if virtual:
        path = f"/{virtual.group(1)}{path}"
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    best = None
    for verb, pattern, literal, required, name in _rest_operations(service):
        found = pattern.match(path)
        if verb != method or not found:
            continue
        if any(key not in query or (value and query[key][0] != value)
               for key, value in literal.items()):
            continue
        header = lambda name: environ.get("HTTP_" + name.upper().replace("-", "_"))  # noqa: E731
        if any((location == "querystring" and name_ not in query)
               or (location == "header" and header(name_) is None)
               for location, name_ in required):
            continue
        rank = (len(literal) + len(required), len(pattern.pattern))
        if best is None or rank > best[0]:
            best = (rank, name, {k: unquote(v) for k, v in found.groupdict().items()})
    return (best[1], best[2]) if best else (None, {})


def call_of(environ, signature):
    """The API call (aws_requests.Call) a request makes: its operation and parameters."""
    service = signature.service
    target = environ.get("HTTP_X_AMZ_TARGET")
    body = _body(environ) if service != "s3" else b""  # S3's bodies are objects: not read
    if target:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return aws_requests.Call(service, target.rsplit(".", 1)[-1],
                                 params if isinstance(params, dict) else {})
    pairs = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        pairs.update(parse_qs(body.decode("utf-8", "replace")))
    if "Action" in pairs:
        params = _flattened(pairs)
        return aws_requests.Call(service, params.pop("Action"), params)
    operation, params = _rest_call(service, environ)
    if operation is None:
        raise Unjudgeable(f"{api_calls.operation(environ)}: no {service} operation has this "
                          "method and path")
    if service != "s3" and operation != "Invoke" and body[:1] == b"{":
        try:
            params = {**json.loads(body), **params}
        except ValueError:
            pass
    for key, values in parse_qs(environ.get("QUERY_STRING", "")).items():
        params.setdefault(key, values[0])
    return aws_requests.Call(service, operation, params)


def _with_iam_paths(call, account):
    """IAM's ARNs name a role, user or policy with its path (RoleNameWithPath, ...), which
    the call gives only as a name: the path is the one moto's IAM has (/ for a new one)."""
    if call.service != "iam":
        return call
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    params = dict(call.params)
    for name, with_path, found in (
            ("RoleName", "RoleNameWithPath",
             lambda n: next((r for r in backend.roles.values() if r.name == n), None)),
            ("UserName", "UserNameWithPath", lambda n: backend.users.get(n)),
            ("InstanceProfileName", "InstanceProfileNameWithPath",
             lambda n: next((p for p in backend.instance_profiles.values() if p.name == n), None)),
            ("GroupName", "GroupNameWithPath", lambda n: backend.groups.get(n))):
        if isinstance(params.get(name), str) and with_path not in params:
            entity = found(params[name])
            path = getattr(entity, "path", None) or params.get("Path") or "/"
            params[with_path] = f"{path.strip('/')}/{params[name]}".lstrip("/")
    if isinstance(params.get("PolicyArn"), str) and ":policy/" in params["PolicyArn"]:
        params.setdefault("PolicyNameWithPath", params["PolicyArn"].split(":policy/", 1)[1])
    elif isinstance(params.get("PolicyName"), str) and call.operation == "CreatePolicy":
        path = (params.get("Path") or "/").strip("/")
        params.setdefault("PolicyNameWithPath", f"{path}/{params['PolicyName']}".lstrip("/"))
    return aws_requests.Call(call.service, call.operation, params)


# -- the decision -------------------------------------------------------------------------

@dataclass(frozen=True)
class Denial:
    action: str
    resource: str
    reason: str


def decide(call, session, region):
    """None if every request of the call is allowed, else the first Denial."""
    account = session.account_id
    if f"{call.service}:{call.operation}" in NO_PERMISSION_NEEDED:
        return None
    keys = MotoKeys(account, region)
    requests = aws_requests.requests_of(_with_iam_paths(call, account), account, region, keys)
    policies = role_policies(session.role_arn)
    context = {"aws:SecureTransport": True,  # AWS's endpoints are HTTPS only
               "aws:PrincipalArn": session.role_arn, "aws:PrincipalAccount": account,
               **{f"aws:PrincipalTag/{k}": v for k, v in policies.tags.items()}}
    for request in requests:
        request = iam_policy.Request(request.action, request.resource,
                                     {**context, **request.context}, session.role_arn)
        key_policy = None
        if request.action.startswith("kms:") and ":key/" in request.resource:
            key_policy = keys.policy_of(request.resource)
        decision = iam_policy.decide(request, identity=policies.identity,
                                     boundary=policies.boundary, resource_policy=key_policy)
        if not decision.allowed:
            return Denial(request.action, request.resource, decision.reason)
    return None


def lambda_service_denials(function, log_stream):
    """What Lambda itself does with a function's role (logs; ENIs for a VPC function),
    decided under the role: [Denial]."""
    account, region = function.account_id, function.region
    vpc = getattr(function, "_vpc_config", None) or {}
    subnets = vpc.get("SubnetIds") or []
    groups = vpc.get("SecurityGroupIds") or []
    pairs = [{"SubnetId": s, "SecurityGroupId": g} for s in subnets for g in groups] or [None]
    policies = role_policies(function.role)
    denials, seen = [], set()
    for in_vpc in pairs:
        for request in aws_requests.lambda_service_requests(
                function.function_name, log_stream, in_vpc, account, region):
            if (request.action, request.resource) in seen:
                continue
            seen.add((request.action, request.resource))
            request = iam_policy.Request(request.action, request.resource,
                                         {"aws:PrincipalArn": function.role,
                                          "aws:PrincipalAccount": account},
                                         function.role)
            try:
                decision = iam_policy.decide(request, identity=policies.identity,
                                             boundary=policies.boundary)
            except (iam_policy.UnknownConditionKey, iam_policy.UnknownConditionOperator) as exc:
                print(f"IAM enforcement: denied Lambda's {request.action} for {function.role}: "
                      f"{exc}", file=sys.stderr, flush=True)
                decision = iam_policy.Decision(False, f"(the emulator cannot judge it: {exc})")
            if not decision.allowed:
                denials.append(Denial(request.action, request.resource, decision.reason))
    return denials


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


class Enforcer:
    """Judges a WSGI request before moto: None to let it through, else the error to send."""

    def __init__(self, log=sys.stderr):
        self.log = log
        self._lock = threading.Lock()
        self._sessions = {}  # access key -> moto's AssumedRole

    def _session(self, access_key):
        with self._lock:
            session = self._sessions.get(access_key)
        if session is None:
            session = assumed_role(access_key)
            if session is not None:
                with self._lock:
                    self._sessions[access_key] = session
        return session

    def check(self, environ):
        signature = signature_of(environ)
        if signature is None or signature.access_key == OPERATOR_KEY:
            return None
        protocol = protocol_of(environ, signature)
        session = self._session(signature.access_key)
        if session is None or (signature.session_token
                               and signature.session_token != session.session_token) \
                or not signature.session_token:
            code, status, message = UNKNOWN_KEY[protocol]
            return error_response(protocol, code, message, status,
                                  environ.get("CONTENT_TYPE") or None)
        try:
            call = call_of(environ, signature)
            denial = decide(call, session, signature.region)
        except Exception as exc:  # noqa: BLE001 - Unjudgeable, UnknownOperation, a bug: denied
            if not isinstance(exc, (Unjudgeable, service_authorization.UnknownOperation,
                                    iam_policy.UnknownConditionKey,
                                    iam_policy.UnknownConditionOperator)):
                traceback.print_exc(file=self.log)
            operation = api_calls.operation(environ) or signature.service
            denial = Denial(operation, "*", f"(the emulator cannot judge this request: {exc})")
            print(f"IAM enforcement: denied {operation} for {session.arn}: {exc}",
                  file=self.log, flush=True)
        if denial is None:
            return None
        message = denial_message(session.arn, denial, protocol)
        print(f"IAM enforcement: {message}", file=self.log, flush=True)
        return error_response(protocol, ACCESS_DENIED[protocol], message,
                              content_type=environ.get("CONTENT_TYPE") or None)
