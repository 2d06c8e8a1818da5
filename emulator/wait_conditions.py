"""Patch 2e: AWS::CloudFormation::WaitCondition waits for the signals sent to its handle.

moto behaviour replaced:
- `moto.cloudformation.parsing.NULL_MODELS` lists AWS::CloudFormation::WaitCondition and
  AWS::CloudFormation::WaitConditionHandle: moto makes nothing for them, so a handle's
  Ref is empty and a wait condition is complete at once, whatever its Timeout, Count
  or the signals (none could be sent anyway).

What runs instead (two models registered in moto's CloudFormation model map):
- WaitConditionHandle: its Ref (physical id) is a URL on this emulator,
  /_fargate_platform/wait-condition/<token>, standing for AWS's presigned S3 URL: a
  process PUTs a signal there, {"Status": "SUCCESS"|"FAILURE", "UniqueId", "Data",
  "Reason"}, with an empty or no Content-Type as AWS's signature requires (else 403,
  as S3's SignatureDoesNotMatch); an unknown or deleted handle answers 404 (server.py
  routes the PUT to record_signal). The URL answers from the handle's creation to its
  deletion, so a signal sent before the wait starts counts.
- WaitCondition with a Handle: its create waits, in the stack operation's thread, until
  Count SUCCESS signals with distinct UniqueIds arrived (a repeated UniqueId is a
  retransmission, ignored), and fails with AWS's reasons on a FAILURE signal
  ("WaitCondition received failed message: '<Reason>' for uniqueId: <UniqueId>"), on
  a body that is no signal ("Unparsable WaitCondition data"), or once Timeout seconds
  passed ("WaitCondition timed out. Received 0 conditions when expecting 1"); the
  stack's own timeout, or a DeleteStack, cancels it (stack_timeouts.py, checked each
  CHECK_SECONDS). Fn::GetAtt Data is the JSON object of the SUCCESS signals' Data by
  UniqueId, e.g. {"Signal1":"Step 1 complete."}.
  Updates: AWS supports none for either type; an updated one stays as it is.
- Left out: the CreationPolicy form (no Handle; signalled through SignalResource) is
  complete at once, as moto had it.
"""
import json
import threading
import time
import uuid

from moto.core.common_models import CloudFormationModel

from emulator import context
from emulator.resource_steps import ResourceFailure
from emulator.stack_timeouts import check_deadline

SIGNAL_PATH = "/_fargate_platform/wait-condition/"
MAX_TIMEOUT_SECONDS = 43200  # AWS's limit for Timeout
CHECK_SECONDS = 1.0  # how often a wait checks the stack's timeout and a DeleteStack's cancel


class HandleSignals:
    """The signals (raw PUT bodies, in arrival order) of each handle that exists."""

    def __init__(self):
        self._changed = threading.Condition()
        self._bodies = {}  # token -> [bytes]

    def open(self, token):
        with self._changed:
            self._bodies[token] = []

    def close(self, token):
        with self._changed:
            self._bodies.pop(token, None)

    def record(self, token, body):
        """Keeps a signal; False when no handle has this token (so: 404)."""
        with self._changed:
            if token not in self._bodies:
                return False
            self._bodies[token].append(body)
            self._changed.notify_all()
            return True

    def received(self, token):
        with self._changed:
            return list(self._bodies.get(token, []))

    def wait_for_more(self, token, seen, seconds):
        """The handle's signals once there are more than `seen` of them, or once `seconds`
        passed (a signal that came before the wait counts: the count is read under the lock)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._bodies.get(token, ())) > seen,
                                   max(seconds, 0.0))
            return list(self._bodies.get(token, []))


SIGNALS = HandleSignals()


def record_signal(token, body, content_type):
    """The signal URL's PUT handler (server.py): returns (HTTP status, JSON document)."""
    if content_type:
        return 403, {"code": "SignatureDoesNotMatch",
                     "message": "The request signature we calculated does not match the signature "
                                "you provided: send the signal with an empty Content-Type header."}
    if not SIGNALS.record(token, body):
        return 404, {"code": "NoSuchKey", "message": "No wait condition handle has this URL."}
    return 200, {}


class _NotUpdatable(CloudFormationModel):
    """What the two wait-condition types share: no name property, no update (AWS does not
    support updating them), created once made."""

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        return original_resource  # AWS: updates are not supported

    def is_created(self):
        return True


class WaitConditionHandle(_NotUpdatable):
    def __init__(self, token, url):
        self.token = token
        self.url = url

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudFormation::WaitConditionHandle"

    @classmethod
    def has_cfn_attr(cls, attr):
        return False

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        token = uuid.uuid4().hex
        SIGNALS.open(token)
        return cls(token, f"{context.current().endpoint_url}{SIGNAL_PATH}{token}")

    @property
    def physical_resource_id(self):
        return self.url

    def delete(self, account_id, region_name):
        SIGNALS.close(self.token)


class WaitCondition(_NotUpdatable):
    def __init__(self, name, data):
        self.name = name
        self.data = data  # the JSON text Fn::GetAtt Data answers

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudFormation::WaitCondition"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Data"

    def get_cfn_attribute(self, attribute_name):
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Data":
            return self.data
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json.get("Properties") or {}
        if not properties.get("Handle"):  # the CreationPolicy form: not emulated
            return cls(resource_name, "{}")
        waiting = _Wait(kwargs["LogicalId"], kwargs["ResourceType"], properties)
        return cls(resource_name, json.dumps(waiting.until_signalled(), separators=(",", ":")))

    @property
    def physical_resource_id(self):
        return self.name

    def delete(self, account_id, region_name):
        pass  # nothing outside moto's bookkeeping


class _Wait:
    """One wait condition's wait for its handle's signals."""

    def __init__(self, logical_id, resource_type, properties):
        self.logical_id, self.resource_type = logical_id, resource_type
        self.token = str(properties["Handle"]).rstrip("/").rsplit("/", 1)[-1]
        if not str(properties["Handle"]).startswith(context.current().endpoint_url + SIGNAL_PATH):
            self.fail(f"Handle {properties['Handle']} is not the URL of a WaitConditionHandle")
        self.timeout = self.number(properties, "Timeout", None, MAX_TIMEOUT_SECONDS)
        self.count = self.number(properties, "Count", 1, None)

    def number(self, properties, name, default, maximum):
        raw = properties.get(name, default)
        try:
            value = int(str(raw))
        except ValueError:
            value = None
        if value is None or value < 1 or (maximum and value > maximum):
            self.fail(f"{name} must be a whole number from 1"
                      f"{f' to {maximum}' if maximum else ''}, got {raw!r}")
        return value

    def fail(self, reason):
        raise ResourceFailure(self.logical_id, self.resource_type, reason)

    def until_signalled(self):
        """The SUCCESS signals' Data by UniqueId, once Count of them arrived."""
        give_up = time.monotonic() + self.timeout
        bodies = SIGNALS.received(self.token)
        while True:
            successes = self.successes(bodies)
            if len(successes) >= self.count:
                return successes
            check_deadline(self.logical_id, self.resource_type)  # the stack's timeout, a cancel
            left = give_up - time.monotonic()
            if left <= 0:
                self.fail(f"WaitCondition timed out. Received {len(successes)} conditions when "
                          f"expecting {self.count}")
            bodies = SIGNALS.wait_for_more(self.token, len(bodies), min(left, CHECK_SECONDS))

    def successes(self, bodies):
        """The SUCCESS signals among `bodies`, in order; fails at the first FAILURE (or
        unreadable one)."""
        successes = {}
        for body in bodies:
            signal = _parse_signal(body)
            if signal is None:
                self.fail("Unparsable WaitCondition data")
            unique_id = str(signal["UniqueId"])
            if unique_id in successes:
                continue  # a retransmission
            if signal["Status"] == "FAILURE":
                self.fail(f"WaitCondition received failed message: '{signal.get('Reason', '')}' "
                          f"for uniqueId: {unique_id}")
            successes[unique_id] = signal.get("Data")
        return successes


def _parse_signal(body):
    try:
        signal = json.loads(body)
    except ValueError:
        return None
    if not isinstance(signal, dict) or signal.get("Status") not in ("SUCCESS", "FAILURE") \
            or signal.get("UniqueId") in (None, ""):
        return None
    return signal


def apply():
    from moto.cloudformation import parsing

    model_map = parsing.get_model_map()  # lru_cache'd dict: changing it changes the lookup
    for model in (WaitConditionHandle, WaitCondition):
        if model.cloudformation_type() in parsing.NULL_MODELS:  # checked by the plain-moto test
            parsing.NULL_MODELS.remove(model.cloudformation_type())
        model_map[model.cloudformation_type()] = model
