"""Patch 15a: CloudFormation change sets as AWS keeps them: per stack, executed as a stack operation.

moto behaviour replaced (CloudFormationResponse.create_change_set, describe_change_set,
execute_change_set, delete_change_set, list_change_sets):
- No ChangeSetType meant CREATE, and a CREATE for an existing stack made a second stack of
  that name; an unchanged UPDATE was refused ("No updates are to be performed.").
- Change sets were found by name across stacks (deleting one stack's "A" deleted
  another's) and listed all together; an unknown one was "Stack with id A does not exist"
  or HTTP 500 (UnboundLocalError).
- ExecuteChangeSet changed the resources inside the call: no rollback, no stack
  ChangeSetId, the stack's other change sets left executable.

What runs instead:
- Lookup as AWS's: by ARN, or by name within StackName (ValidationError without one or
  for an unknown stack; ChangeSetNotFound "ChangeSet [A] does not exist", except that
  DeleteChangeSet succeeds). ChangeSetType defaults to UPDATE; CREATE makes (or adds to)
  a REVIEW_IN_PROGRESS stack and refuses any other existing stack.
- What a change set changes is template_changes' decision (UpdateStack's "No updates are
  to be performed." is too): an UPDATE that changes nothing is FAILED, UNAVAILABLE, with
  AWS's StatusReason; UsePreviousValue is refused on a CREATE, as AWS refuses it.
- Executing runs as stack_operations' operations: an UPDATE is the backend's update_stack
  (background, busy refusal, rollback), a CREATE creates the REVIEW_IN_PROGRESS stack's
  resources in the background, rolled back as CreateStack's. The stack gets the
  ChangeSetId, its other change sets are deleted, and the executed one is found by ARN
  only, its ExecutionStatus following the stack's events: EXECUTE_IN_PROGRESS, then
  EXECUTE_COMPLETE or EXECUTE_FAILED. One whose stack began another operation since is
  OBSOLETE.
"""
import re
import threading

from emulator import stack_endings, stack_operations, template_changes
from emulator.cloudformation_messages import check_template, validation_error

NO_CHANGES = ("The submitted information didn't contain changes. "
              "Submit different information to create a change set.")
NAME_PATTERN = "[a-zA-Z][-a-zA-Z0-9]*"
TYPES = ("CREATE", "UPDATE", "IMPORT")
EXECUTED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")  # the stack statuses of a successful execution
_executing = threading.Lock()  # checking that a change set can be executed, and marking it so


# -- finding change sets -------------------------------------------------------------------


def _error(code, message):
    from moto.cloudformation.exceptions import CloudFormationError

    return CloudFormationError(code, message)


def _not_found(name):
    return _error("ChangeSetNotFound", f"ChangeSet [{name}] does not exist")


def _stack(backend, name_or_id):
    stack = stack_operations.find_live_stack(backend, name_or_id)
    if stack is None:
        raise validation_error(f"Stack [{name_or_id}] does not exist")
    return stack


def _pending(backend, stack):
    """The stack's change sets that its name finds: not executed yet."""
    return [change_set for change_set in backend.change_sets.values()
            if change_set.stack_id == stack.stack_id and change_set.executed_from is None]


def _find(backend, name, stack_name):
    """The change set `name` (an ARN, or a name within `stack_name`), or None."""
    if name.startswith("arn:"):
        return backend.change_sets.get(name)
    if not stack_name:
        raise validation_error("StackName must be specified if ChangeSetName is not specified as an ARN.")
    stack = _stack(backend, stack_name)
    return next((c for c in _pending(backend, stack) if c.change_set_name == name), None)


def _stack_events_since(stack, index):
    return [event.resource_status for event in stack.events[index:]
            if event.physical_resource_id == stack.stack_id]


def _refresh(change_set):
    """ExecutionStatus as the stack's events since the change set have it."""
    if change_set.executed_from is not None:
        if change_set.execution_status == "EXECUTE_IN_PROGRESS":
            ended = [status for status in _stack_events_since(change_set.stack, change_set.executed_from)
                     if status.endswith(("_COMPLETE", "_FAILED"))]
            if ended:
                change_set.execution_status = "EXECUTE_COMPLETE" if ended[0] in EXECUTED else "EXECUTE_FAILED"
    elif change_set.execution_status == "AVAILABLE" and any(
            status.endswith("_IN_PROGRESS")
            for status in _stack_events_since(change_set.stack, change_set.created_at)):
        change_set.execution_status = "OBSOLETE"  # the stack changed under it
    return change_set


# -- CreateChangeSet ----------------------------------------------------------------------


def _check_request(name, kind):
    if not re.fullmatch(NAME_PATTERN, name or "") or len(name) > 128:
        raise validation_error(f"1 validation error detected: Value '{name}' at 'changeSetName' failed to "
                          f"satisfy constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}")
    if kind not in TYPES:
        raise validation_error(f"1 validation error detected: Value '{kind}' at 'changeSetType' failed to "
                          f"satisfy constraint: Member must satisfy enum value set: [{', '.join(TYPES)}]")
    if kind == "IMPORT":
        raise validation_error("The emulator does not import resources (ChangeSetType IMPORT).")


def _requested_template(response, stack, kind):
    body, url = response._get_param("TemplateBody"), response._get_param("TemplateURL")
    if response._get_bool_param("UsePreviousTemplate", False):
        if body or url:
            raise validation_error("You cannot specify both usePreviousTemplate and Template Body/Template URL.")
        if kind == "CREATE":
            raise validation_error("Cannot specify usePreviousTemplate as true for a changeSetType CREATE")
        return stack.template
    if url and not body:
        return response._get_stack_from_s3_url(url)
    return body


def _stack_for(response, backend, stack_name, change_set_name, kind):
    """The existing stack the change set is for (None: a CREATE of a new stack)."""
    stack = stack_operations.find_live_stack(backend, stack_name)
    if kind == "UPDATE":
        if stack is None:
            raise validation_error(f"Stack [{stack_name}] does not exist")
        stack_operations.refuse_if_busy(stack, "updated")
        response._validate_status(stack)  # UpdateStack's own refusals (ROLLBACK_COMPLETE)
    elif stack is not None and stack.status != "REVIEW_IN_PROGRESS":
        raise validation_error(f"Stack [{stack_name}] already exists and cannot be created again "
                          f"with the changeSet [{change_set_name}].")
    return stack


def _review_stack(backend, name, parameters, notification_arns, tags, role_arn):
    """A new stack without template or resources, as AWS makes for a CREATE change set."""
    from moto.cloudformation.models import Stack
    from moto.cloudformation.utils import generate_stack_id

    stack = Stack(stack_id=generate_stack_id(name, backend.region_name, backend.account_id),
                  name=name, template={}, parameters=parameters, account_id=backend.account_id,
                  region_name=backend.region_name, notification_arns=notification_arns, tags=tags,
                  role_arn=role_arn)
    backend.stacks[stack.stack_id] = stack
    stack.status = "REVIEW_IN_PROGRESS"
    stack._add_stack_event("REVIEW_IN_PROGRESS", resource_status_reason="User Initiated")
    return stack


def _same_request_or_refuse(existing, template, parameters):
    """AWS answers a repeated request with the change set it made; a different one is refused."""
    from moto.cloudformation.exceptions import AlreadyExistsException

    for attribute, old, new in (("Template", existing.template, template),
                                ("Parameters", existing.parameters, parameters)):
        if old != new:
            raise AlreadyExistsException(f"ChangeSet {existing.change_set_name} cannot be created "
                                         f"due to a mismatch with existing attribute {attribute}")


def create_change_set(self):
    from moto.cloudformation.models import ChangeSet
    from moto.cloudformation.utils import generate_changeset_id
    from moto.core.responses import ActionResult

    backend = self.cloudformation_backend
    stack_name, name = self._get_param("StackName"), self._get_param("ChangeSetName")
    kind = self._get_param("ChangeSetType") or "UPDATE"  # AWS's default
    _check_request(name, kind)
    stack = _stack_for(self, backend, stack_name, name, kind)
    template = _requested_template(self, stack, kind)
    check_template(template)
    incoming = self._get_param("Parameters", [])
    if kind == "CREATE" and any(parameter.get("UsePreviousValue") for parameter in incoming):
        raise validation_error("Cannot specify UsePreviousValue on Parameters when ChangeSetType is CREATE")
    parameters = template_changes.given_parameters(incoming, stack)
    tags = {item["Key"]: item["Value"] for item in self._get_param("Tags", [])}
    notification_arns = self._get_param("NotificationARNs", [])
    role_arn = self._get_param("RoleARN")
    existing = stack and next((c for c in _pending(backend, stack) if c.change_set_name == name), None)
    if existing:
        _same_request_or_refuse(existing, template, parameters)
        return ActionResult({"Id": existing.change_set_id, "StackId": existing.stack_id})
    if stack is None:
        stack = _review_stack(backend, stack_name, parameters, notification_arns, tags, role_arn)
    change_set = ChangeSet(
        change_set_type=kind, change_set_id=generate_changeset_id(name, backend.region_name,
                                                                  backend.account_id),
        change_set_name=name, stack=stack, template=template, parameters=parameters,
        description=self._get_param("Description"), notification_arns=notification_arns,
        tags=tags, role_arn=role_arn)
    change_set.changes = template_changes.resource_changes(stack, change_set.template_dict, parameters)
    change_set.created_at, change_set.executed_from = len(stack.events), None  # event indexes
    if kind == "UPDATE" and template_changes.no_changes(stack, template, parameters):
        change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
        change_set.status_reason = NO_CHANGES
    else:
        change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
    backend.change_sets[change_set.change_set_id] = change_set
    return ActionResult({"Id": change_set.change_set_id, "StackId": stack.stack_id})


# -- Describe, List, Delete ---------------------------------------------------------------


def describe_change_set(self):
    from moto.core.responses import ActionResult

    name = self._get_param("ChangeSetName")
    change_set = _find(self.cloudformation_backend, name, self._get_param("StackName"))
    if change_set is None:
        raise _not_found(name)
    return ActionResult(_refresh(change_set))


def list_change_sets(self):
    from moto.core.responses import ActionResult

    backend = self.cloudformation_backend
    stack = _stack(backend, self._get_param("StackName"))
    return ActionResult({"Summaries": [_refresh(c) for c in _pending(backend, stack)]})


def delete_change_set(self):
    from moto.core.responses import EmptyResult

    backend = self.cloudformation_backend
    change_set = _find(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
    if change_set is None:
        return EmptyResult()  # AWS: deleting a change set that is not there succeeds
    if _refresh(change_set).execution_status == "EXECUTE_IN_PROGRESS":
        raise _error("InvalidChangeSetStatus",
                     f"ChangeSet [{change_set.change_set_id}] cannot be deleted in its current "
                     f"execution status of [{change_set.execution_status}]")
    backend.change_sets.pop(change_set.change_set_id, None)
    return EmptyResult()


# -- ExecuteChangeSet ---------------------------------------------------------------------


def _check_executable(change_set):
    message = None
    if change_set.status != "CREATE_COMPLETE":
        message = f"cannot be executed in its current status of [{change_set.status}]"
    elif change_set.execution_status != "AVAILABLE":
        message = f"cannot be executed in its current execution status of [{change_set.execution_status}]"
    if message:
        raise _error("InvalidChangeSetStatus", f"ChangeSet [{change_set.change_set_id}] {message}")


def _start_update(backend, change_set):
    """The stack operation UpdateStack runs (stack_operations: background, busy refusal, rollback)."""
    backend.update_stack(
        name=change_set.stack_id, template=change_set.template, role_arn=change_set.role_arn,
        parameters=[{"ParameterKey": key, "ParameterValue": value}
                    for key, value in change_set.parameters.items()],
        tags=change_set.tags or None)


# What a CREATE change set gives its REVIEW_IN_PROGRESS stack.
TAKEN_FROM_CHANGE_SET = ("template", "template_dict", "description", "parameters",
                         "notification_arns", "tags", "role_arn", "cross_stack_resources",
                         "resource_map", "output_map")


def _start_create(backend, change_set):
    """The REVIEW_IN_PROGRESS stack takes the change set's template and is created as
    CreateStack creates one (stack_operations.run_create: background, ended as a create)."""
    from moto.cloudformation.models import Stack

    stack = change_set.stack
    prepared = Stack(  # as moto's create_stack builds one; a missing parameter is refused here
        stack_id=stack.stack_id, name=stack.name, template=change_set.template,
        parameters=dict(change_set.parameters), account_id=stack.account_id,
        region_name=stack.region_name, notification_arns=change_set.notification_arns,
        tags=change_set.tags, role_arn=change_set.role_arn, cross_stack_resources=backend.exports)
    backend._validate_export_uniqueness(prepared)
    exports = prepared.exports  # read before the create starts, as moto's create_stack reads them
    operation = stack_operations.start_operation(stack, "CREATE_IN_PROGRESS", "created",
                                                 from_states=("REVIEW_IN_PROGRESS",))
    for name in TAKEN_FROM_CHANGE_SET:  # only now: a refused start leaves the stack as it was
        setattr(stack, name, getattr(prepared, name))
    for export in exports:
        backend.exports[export.name] = export
    stack_endings.take_create_options(stack)  # ExecuteChangeSet's: CreateStack's defaults
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    stack_operations.run_create(operation, [stack.create_resources])


def execute_change_set(self):
    from moto.core.responses import EmptyResult

    backend = self.cloudformation_backend
    name = self._get_param("ChangeSetName")
    change_set = _find(backend, name, self._get_param("StackName"))
    if change_set is None:
        raise _not_found(name)
    stack = change_set.stack
    with _executing:  # a concurrent execute of this change set finds it EXECUTE_IN_PROGRESS
        _check_executable(_refresh(change_set))
        change_set.executed_from, change_set.execution_status = len(stack.events), "EXECUTE_IN_PROGRESS"
    try:
        (_start_create if change_set.change_set_type == "CREATE" else _start_update)(backend, change_set)
    except Exception:  # refused in the call (busy stack, bad parameters): nothing was executed
        change_set.executed_from, change_set.execution_status = None, "AVAILABLE"
        raise
    stack.change_set_id = change_set.change_set_id
    for other in _pending(backend, stack):  # AWS: no longer valid for the updated stack
        backend.change_sets.pop(other.change_set_id, None)
    return EmptyResult()


RESPONSES = {
    "create_change_set": create_change_set,
    "describe_change_set": describe_change_set,
    "execute_change_set": execute_change_set,
    "delete_change_set": delete_change_set,
    "list_change_sets": list_change_sets,
}


def apply():
    from moto.cloudformation.responses import CloudFormationResponse

    for method, replacement in RESPONSES.items():
        setattr(CloudFormationResponse, method, replacement)
