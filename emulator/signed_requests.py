"""A signed request as IAM sees it: who signed it (the SigV4 or SigV2 access key, session
token, region and service), which operation it calls with which parameters (JSON body,
query form, or the REST path and members, read with botocore's model), and its protocol."""
import functools
import io
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from fargate_platform import aws_requests
from emulator import api_calls

_AUTHORIZATION = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_SIGV2 = re.compile(r"^AWS ([^:\s]+):")


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


def with_iam_paths(call, account):
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
