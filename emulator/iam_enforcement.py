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
import sys
import threading
from collections import Counter
import traceback
from dataclasses import dataclass

from fargate_platform import aws_requests, iam_policy, service_authorization
from fargate_platform.local.aws_profile import DUMMY_KEY
from emulator import api_calls
from emulator.iam_errors import (
    ACCESS_DENIED,
    UNKNOWN_KEY,
    denial_message,
    error_response,
    protocol_of,
)
from emulator.iam_state import MotoKeys, assumed_role, role_policies
from emulator.signed_requests import Unjudgeable, call_of, signature_of, with_iam_paths

OPERATOR_KEY = DUMMY_KEY
# Actions AWS authorizes for every caller: "No permissions are required to perform this
# operation" (an explicit deny cannot stop them either).
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}


# -- the decision -------------------------------------------------------------------------

@dataclass(frozen=True)
class Denial:
    action: str
    resource: str
    reason: str


def decide(call, session, region, record=None):
    """None if every request of the call is allowed, else the first Denial; `record(request,
    allowed)` is told each decision."""
    account = session.account_id
    if f"{call.service}:{call.operation}" in NO_PERMISSION_NEEDED:
        return None
    keys = MotoKeys(account, region)
    requests = aws_requests.requests_of(with_iam_paths(call, account), account, region, keys)
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
        if record is not None:
            record(request, decision.allowed)
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


class DecisionLog:
    """Every request judged under a role, counted by role, action and outcome (the
    functions' own calls and, task_start.py, ECS's with an execution role)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()  # (role name, action, "allowed" or "denied") -> requests

    def record(self, request, allowed):
        with self._lock:
            self._counts[(request.principal.rsplit("/", 1)[-1], request.action,
                          "allowed" if allowed else "denied")] += 1

    def snapshot(self):
        """{role name: {action: {"allowed": n, "denied": n}}}."""
        with self._lock:
            found = {}
            for (role, action, outcome), count in sorted(self._counts.items()):
                found.setdefault(role, {}).setdefault(action, {"allowed": 0, "denied": 0})[outcome] = count
            return found


DECISIONS = DecisionLog()


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
            denial = decide(call, session, signature.region, DECISIONS.record)
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
