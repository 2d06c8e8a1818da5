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
The records live in this process (as moto's state does).
"""
import json
import threading
import uuid
from collections.abc import Mapping

from emulator import drift_properties, property_validation

_lock = threading.Lock()
_detections = {}  # detection id -> the DescribeStackDriftDetectionStatus answer
_stack_drift = {}  # stack id -> {"StackDriftStatus", "LastCheckTimestamp"}
_resource_drifts = {}  # stack id -> {logical id: StackResourceDrift}


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
        return iter(self._map._parsed_resources)

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


def _property_schema(schema, key):
    additional = schema.get("additionalProperties")
    return (schema.get("properties") or {}).get(
        key, additional if isinstance(additional, dict) else {})


def _coerce(value, schema, root):
    """Template and live scalars in the schema's type, as CloudFormation converts them."""
    schema = property_validation.dereference(root, schema)
    expected = schema.get("type")
    if isinstance(value, dict):
        return {key: _coerce(item, _property_schema(schema, key), root)
                for key, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [_coerce(item, items, root) for item in value]
    if isinstance(value, str):
        try:
            if expected == "integer":
                return int(value)
            if expected == "number":
                return float(value) if "." in value else int(value)
        except ValueError:
            return value
        if expected == "boolean" and value.lower() in ("true", "false"):
            return value.lower() == "true"
    return value


# -- the comparison -------------------------------------------------------------------------


def _text(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _difference(path, expected, actual, kind):
    return {"PropertyPath": path, "ExpectedValue": _text(expected), "ActualValue": _text(actual),
            "DifferenceType": kind}


def differences(expected, actual, path, schema, root):
    """PropertyDifferences between a template value and the live one, at `path`."""
    schema = property_validation.dereference(root, schema)
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual)):
            if key not in actual or actual[key] is None:
                found.append(_difference(f"{path}/{key}", expected[key], None, "REMOVE"))
            elif key not in expected:
                found.append(_difference(f"{path}/{key}", None, actual[key], "ADD"))
            else:
                found += differences(expected[key], actual[key], f"{path}/{key}",
                                     _property_schema(schema, key), root)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if schema.get("insertionOrder") is False:
            return _set_differences(expected, actual, path)
        found = []
        for index in range(max(len(expected), len(actual))):
            if index >= len(actual):
                found.append(_difference(f"{path}/{index}", expected[index], None, "REMOVE"))
            elif index >= len(expected):
                found.append(_difference(f"{path}/{index}", None, actual[index], "ADD"))
            else:
                found += differences(expected[index], actual[index], f"{path}/{index}", items, root)
        return found
    if _text(expected) != _text(actual):
        return [_difference(path, expected, actual, "NOT_EQUAL")]
    return []


def _set_differences(expected, actual, path):
    unmatched = [_text(item) for item in actual]
    found = []
    for index, item in enumerate(expected):
        if _text(item) in unmatched:
            unmatched.remove(_text(item))
        else:
            found.append(_difference(f"{path}/{index}", item, None, "REMOVE"))
    for index, item in enumerate(actual):
        if _text(item) in unmatched:
            unmatched.remove(_text(item))
            found.append(_difference(f"{path}/{index}", None, item, "ADD"))
    return found


def _member_key(item):
    return item.get("PolicyName") if isinstance(item, dict) else _text(item)


def _members(expected, actual):
    """The live list's items that are the template's members (by name for policies)."""
    if not isinstance(expected, list) or not isinstance(actual, list):
        return actual
    declared = {_member_key(item) for item in expected}
    return [item for item in actual if _member_key(item) in declared]


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
                expected[name] = _coerce(value, schemas.get(name, {}), root)
    drift["ExpectedProperties"] = _json(expected)
    if live is None:
        return dict(drift, StackResourceDriftStatus="DELETED")
    actual = {name: _coerce(live[name], schemas.get(name, {}), root)
              for name in expected if live.get(name) is not None}
    for name in actual:
        if (resource_type, name) in drift_properties.MEMBERS_ONLY:
            actual[name] = _members(expected[name], actual[name])
    found = differences(expected, actual, "", root, root)
    return dict(drift, ActualProperties=_json(actual), PropertyDifferences=found,
                StackResourceDriftStatus="MODIFIED" if found else "IN_SYNC")


# -- detection and its records --------------------------------------------------------------


def _created(stack):
    """(logical id, model, template definition) of each resource the stack has created."""
    resource_map = stack.resource_map
    for logical_id, definition in resource_map._resource_json_map.items():
        resource = resource_map._parsed_resources.get(logical_id)
        if resource is not None and not isinstance(resource, str):
            yield logical_id, resource, definition


def detect(stack, logical_ids=None):
    """Detects drift on the stack's resources (those named, or all); returns the detection."""
    timestamp = _now()
    results, failed = {}, []
    for logical_id, resource, definition in _created(stack):
        if logical_ids and logical_id not in logical_ids:
            continue
        try:
            results[logical_id] = resource_drift(stack, logical_id, resource, definition, timestamp)
        except Exception:  # noqa: BLE001 - reported as AWS reports a resource it could not check
            failed.append(logical_id)
    with _lock:
        records = _resource_drifts.setdefault(stack.stack_id, {})
        records.update(results)
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


def describe_stack_resource_drifts(self):
    from moto.core.responses import ActionResult

    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    drifts = checked_drifts(stack.stack_id, self._get_param("StackResourceDriftStatusFilters"))
    size = int(self._get_param("MaxResults") or 100)
    start = int(self._get_param("NextToken") or 0)
    page = drifts[start:start + size]
    next_token = str(start + size) if start + size < len(drifts) else None
    return ActionResult({"StackResourceDrifts": page, "NextToken": next_token})


def detect_stack_resource_drift(self):
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import ActionResult

    stack_name, logical_id = self._get_param("StackName"), self._get_param("LogicalResourceId")
    stack = self.cloudformation_backend.get_stack(stack_name)
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
