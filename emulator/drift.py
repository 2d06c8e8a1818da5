"""Patch (issue 15, item 6): CloudFormation drift detection, comparing the template with the
live resources in moto's backends.

moto behaviour replaced:
- DetectStackDrift, DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts and
  DetectStackResourceDrift have no method in
  `moto.cloudformation.responses.CloudFormationResponse`: moto raises NotImplementedError
  and the server answers HTTP 500. DescribeStacks has no DriftInformation.

What runs instead:
- The four actions are added to CloudFormationResponse (moto's ActionResult, serialized
  by moto in the query protocol's XML, as its own actions). Detection runs in the call
  (reading moto's backends is quick), so DescribeStackDriftDetectionStatus answers
  DETECTION_COMPLETE at once, with StackDriftStatus DRIFTED when a checked resource is
  MODIFIED or DELETED, else IN_SYNC, and DriftedStackResourceCount; a resource whose
  reading raised makes it DETECTION_FAILED ("Failed to detect drift on resources [X]").
- Each resource of a supported type (drift_properties.READERS, which says which
  properties per type and why not others) is compared as AWS compares: only properties
  set in the template, resolved by moto's clean_json against what the stack created
  (a reference to something it did not create leaves that property unchecked), scalars
  compared as text after conversion to the schema's type ("7" equals 7), arrays whose
  registry schema says insertionOrder: false compared as sets. The result is IN_SYNC,
  MODIFIED with PropertyDifferences [{PropertyPath "/Value", ExpectedValue, ActualValue
  (text, JSON for objects, "null" for none), DifferenceType NOT_EQUAL | ADD | REMOVE}], or
  DELETED (no ActualProperties) when the resource is gone. ExpectedProperties and
  ActualProperties are JSON text of the compared properties only.
- Every other type is NOT_CHECKED: as on AWS for types without drift support, it is left
  out of DescribeStackResourceDrifts ("Resources that don't currently support drift
  detection aren't checked, and so not included"), and shown as NOT_CHECKED in
  DescribeStackResource(s)' DriftInformation and DetectStackResourceDrift's answer.
- DescribeStacks/ListStacks give each stack's DriftInformation (NOT_CHECKED until its
  first detection, then the last StackDriftStatus and LastCheckTimestamp);
  DescribeStackResource(s) each resource's.
- Detection runs on a stack in the statuses AWS's user guide lists (CREATE_COMPLETE,
  UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED): during an operation
  (*_IN_PROGRESS) or after a failed create it is a ValidationError. A detection of the
  whole stack replaces its records (a resource an update removed is no longer drift); one
  of some resources replaces theirs. DescribeStackResourceDrifts refuses a MaxResults
  outside 1 to 100 and a NextToken it did not give (ValidationError, AWS's texts).
The records live in this process (as moto's state does).
"""
import json
import threading
import uuid
from collections.abc import Mapping

from emulator import drift_compare, drift_properties, property_validation

_lock = threading.Lock()
_detections = {}  # detection id -> the DescribeStackDriftDetectionStatus answer
_stack_drift = {}  # stack id -> {"StackDriftStatus", "LastCheckTimestamp"}
_resource_drifts = {}  # stack id -> {logical id: StackResourceDrift}
# The statuses AWS's user guide lists as those drift detection runs on.
DETECTABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
              "UPDATE_ROLLBACK_FAILED")
MAX_RESULTS = 100  # DescribeStackResourceDrifts' MaxResults: 1 to 100


def _now():
    from moto.core.utils import utcnow

    return utcnow()


# -- expected values ------------------------------------------------------------------------


class _CreatedResources(Mapping):
    """A stack's resource map that only reads: moto's creates a resource it is asked for."""

    def __init__(self, resource_map):
        self._map = resource_map

    def __getitem__(self, key):
        return self._map._parsed_resources[key]

    def __iter__(self):
        return iter(list(self._map._parsed_resources))  # a snapshot: another operation may add

    def __len__(self):
        return len(self._map._parsed_resources)

    def __getattr__(self, name):  # lazy_condition_map, cross_stack_resources, ...
        return getattr(self._map, name)


_UNRESOLVED = object()


def _resolve(value, resources):
    from moto.cloudformation.parsing import clean_json

    try:
        resolved = clean_json(value, resources)
    except Exception:  # noqa: BLE001 - something the stack did not create: not compared
        return _UNRESOLVED
    if resolved is None or property_validation.contains_intrinsic(resolved):
        return _UNRESOLVED  # an attribute or a function moto does not know
    return resolved


def _json(properties):
    return json.dumps(properties, separators=(",", ":"), sort_keys=True)


def resource_drift(stack, logical_id, resource, resource_json, timestamp):
    """The StackResourceDrift of one created resource."""
    resource_type = resource_json.get("Type", "")
    drift = {"StackId": stack.stack_id, "LogicalResourceId": logical_id,
             "PhysicalResourceId": getattr(resource, "physical_resource_id", None),
             "ResourceType": resource_type, "Timestamp": timestamp}
    if resource_type not in drift_properties.READERS:
        return dict(drift, StackResourceDriftStatus="NOT_CHECKED")
    reader, compared = drift_properties.READERS[resource_type]
    live = reader(resource, stack.account_id, stack.region_name)
    resources = _CreatedResources(stack.resource_map)
    root = property_validation.resource_schema(resource_type, stack.region_name) or {}
    schemas = root.get("properties") or {}
    template = resource_json.get("Properties") or {}
    expected = {}
    for name in compared:
        if name in template:
            value = _resolve(template[name], resources)
            if value is not _UNRESOLVED:
                expected[name] = drift_compare.coerce(value, schemas.get(name, {}), root)
    drift["ExpectedProperties"] = _json(expected)
    if live is None:
        return dict(drift, StackResourceDriftStatus="DELETED")
    actual = {name: drift_compare.coerce(live[name], schemas.get(name, {}), root)
              for name in expected if live.get(name) is not None}
    for name in actual:
        if (resource_type, name) in drift_properties.MEMBERS_ONLY:
            actual[name] = drift_compare.members(expected[name], actual[name])
    found = drift_compare.differences(expected, actual, "", root, root)
    return dict(drift, ActualProperties=_json(actual), PropertyDifferences=found,
                StackResourceDriftStatus="MODIFIED" if found else "IN_SYNC")


# -- detection and its records --------------------------------------------------------------


def _created(stack):
    """[(logical id, model, template definition)] of each resource the stack has created.

    Read from snapshots of moto's dicts: this runs in a request thread, and an operation of
    another stack (or one starting now) may change them meanwhile."""
    resource_map = stack.resource_map
    parsed = dict(resource_map._parsed_resources)
    return [(logical_id, parsed[logical_id], definition)
            for logical_id, definition in list(resource_map._resource_json_map.items())
            if parsed.get(logical_id) is not None and not isinstance(parsed[logical_id], str)]


def _refuse_unless_detectable(stack):
    """AWS detects drift on a stack in one of DETECTABLE only (the user guide's list), not
    during an operation. (AWS's exact wording was not found: this is its refusals' style.)"""
    from moto.cloudformation.exceptions import ValidationError

    if stack.status not in DETECTABLE:
        raise ValidationError(stack.stack_id, message=(
            f"Stack:{stack.stack_id} is in {stack.status} state and can not be checked for drift."))


def detect(stack, logical_ids=None):
    """Detects drift on the stack's resources (those named, or all); returns the detection."""
    timestamp = _now()
    created = _created(stack)
    results, failed = {}, []
    for logical_id, resource, definition in created:
        if logical_ids and logical_id not in logical_ids:
            continue
        try:
            results[logical_id] = resource_drift(stack, logical_id, resource, definition, timestamp)
        except Exception:  # noqa: BLE001 - reported as AWS reports a resource it could not check
            failed.append(logical_id)
    current = {logical_id for logical_id, _, _ in created}
    with _lock:
        if logical_ids:  # some resources: the others keep their last result, if still there
            old = _resource_drifts.get(stack.stack_id) or {}
            records = {key: drift for key, drift in old.items() if key in current}
            records.update(results)
        else:  # the whole stack: a resource an update removed is no longer its drift
            records = results
        _resource_drifts[stack.stack_id] = records
        drifted = [r for r in records.values()
                   if r["StackResourceDriftStatus"] in ("MODIFIED", "DELETED")]
        status = "DRIFTED" if drifted else "IN_SYNC"
        detection = {"StackId": stack.stack_id, "StackDriftDetectionId": str(uuid.uuid4()),
                     "StackDriftStatus": status, "DetectionStatus": "DETECTION_COMPLETE",
                     "DriftedStackResourceCount": len(drifted), "Timestamp": timestamp}
        if failed:
            detection.update(DetectionStatus="DETECTION_FAILED", DetectionStatusReason=(
                f"Failed to detect drift on resources [{', '.join(failed)}]"))
        _detections[detection["StackDriftDetectionId"]] = detection
        _stack_drift[stack.stack_id] = {"StackDriftStatus": status,
                                        "LastCheckTimestamp": timestamp}
    return detection


def stack_drift_information(stack_id):
    with _lock:
        return dict(_stack_drift.get(stack_id) or {"StackDriftStatus": "NOT_CHECKED"})


def resource_drift_information(stack_id, logical_id):
    with _lock:
        drift = (_resource_drifts.get(stack_id) or {}).get(logical_id)
    if drift is None or drift["StackResourceDriftStatus"] == "NOT_CHECKED":
        return {"StackResourceDriftStatus": "NOT_CHECKED"}
    return {"StackResourceDriftStatus": drift["StackResourceDriftStatus"],
            "LastCheckTimestamp": drift["Timestamp"]}


def checked_drifts(stack_id, statuses=None):
    """The StackResourceDrifts of the resources checked (NOT_CHECKED ones are not listed)."""
    with _lock:
        drifts = list((_resource_drifts.get(stack_id) or {}).values())
    return [d for d in drifts if d["StackResourceDriftStatus"] != "NOT_CHECKED"
            and (not statuses or d["StackResourceDriftStatus"] in statuses)]


# -- the API --------------------------------------------------------------------------------


def detect_stack_drift(self):
    from moto.core.responses import ActionResult

    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    _refuse_unless_detectable(stack)
    detection = detect(stack, self._get_param("LogicalResourceIds") or None)
    return ActionResult({"StackDriftDetectionId": detection["StackDriftDetectionId"]})


def describe_stack_drift_detection_status(self):
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import ActionResult

    detection_id = self._get_param("StackDriftDetectionId")
    with _lock:
        detection = _detections.get(detection_id)
    if detection is None:
        raise ValidationError(message=f"Drift detection with id {detection_id} does not exist")
    return ActionResult(dict(detection))


def _constraint_error(value, rule):
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=(f"1 validation error detected: Value '{value}' at "
                                    f"'maxResults' failed to satisfy constraint: Member must {rule}"))


def _page_size(value):
    """MaxResults (1 to 100), refused with AWS's constraint message otherwise."""
    if value is None:
        return MAX_RESULTS
    size = int(value)  # moto's request parser made it one (text fails there, before this)
    if size < 1:
        raise _constraint_error(value, "have value greater than or equal to 1")
    if size > MAX_RESULTS:
        raise _constraint_error(value, f"have value less than or equal to {MAX_RESULTS}")
    return size


def _page_start(token):
    """The index a NextToken of ours stands for; any other token is AWS's ValidationError."""
    from moto.cloudformation.exceptions import ValidationError

    if not token:
        return 0
    if not str(token).isdigit():
        raise ValidationError(message=f"{token} is not a valid NextToken")
    return int(token)


def describe_stack_resource_drifts(self):
    from moto.core.responses import ActionResult

    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    drifts = checked_drifts(stack.stack_id, self._get_param("StackResourceDriftStatusFilters"))
    size = _page_size(self._get_param("MaxResults"))
    start = _page_start(self._get_param("NextToken"))
    page = drifts[start:start + size]
    next_token = str(start + size) if start + size < len(drifts) else None
    return ActionResult({"StackResourceDrifts": page, "NextToken": next_token})


def detect_stack_resource_drift(self):
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import ActionResult

    stack_name, logical_id = self._get_param("StackName"), self._get_param("LogicalResourceId")
    stack = self.cloudformation_backend.get_stack(stack_name)
    _refuse_unless_detectable(stack)
    if logical_id not in [created[0] for created in _created(stack)]:
        raise ValidationError(stack_name, message=(
            f"Resource {logical_id} does not exist for stack {stack_name}"))
    detection = detect(stack, [logical_id])
    if detection["DetectionStatus"] == "DETECTION_FAILED":
        raise ValidationError(stack_name, message=detection["DetectionStatusReason"])
    with _lock:
        drift = _resource_drifts[stack.stack_id][logical_id]
    return ActionResult({"StackResourceDrift": dict(drift)})


ACTIONS = {
    "detect_stack_drift": detect_stack_drift,
    "describe_stack_drift_detection_status": describe_stack_drift_detection_status,
    "describe_stack_resource_drifts": describe_stack_resource_drifts,
    "detect_stack_resource_drift": detect_stack_resource_drift,
}


def apply():
    from moto.cloudformation.models import Stack
    from moto.cloudformation.responses import CloudFormationResponse, StackResourceDTO

    for name, method in ACTIONS.items():
        if name not in vars(CloudFormationResponse):  # moto grew its own: the plain-moto test says
            setattr(CloudFormationResponse, name, method)
    Stack.drift_information = property(lambda stack: stack_drift_information(stack.stack_id))
    StackResourceDTO.drift_information = property(
        lambda dto: resource_drift_information(dto.stack_id, dto.logical_resource_id))
