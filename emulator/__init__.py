"""The local AWS emulator: moto's server plus the project's layer for what moto lacks.

Runs inside .venvs/emulator (moto[server,cloudformation], pinned in
requirements/emulator.txt), started as

    PYTHONPATH=<repo> .venvs/emulator/bin/python -m emulator \
        --port 4750 --state-dir .local

and serves moto's own WSGI application on 127.0.0.1 only, after applying the
patches below (each module's docstring names the moto behaviour it replaces,
and emulator.patches checks, before patching, that moto
still has the functions it patches with the signatures it expects):

1. lambda_runner: Lambda functions run without Docker: the function's own zip,
   unpacked into the state folder, its handler run by the machine's python3 in a
   subprocess (kept warm for the next invocations, like Lambda's execution
   environments) with the function's environment and timeout, and with the
   credentials of its execution role (assumed through moto's STS, session name =
   the function's name); logs go to the emulator's CloudWatch Logs when the role
   may write them, and a VPC function whose role may not manage its network
   interfaces fails to invoke, as on AWS. The warm environments: lambda_workers.
2. custom_resources: Lambda-backed custom resources get a ResponseURL that
   reaches this emulator; Create/Update/Delete run the function and wait for its
   answer; FAILED fails the resource. stack_operations: stack operations run in the
   background, one at a time per stack (a DeleteStack cancels a create in progress),
   and a failed one ends as on AWS instead of hanging (stack_endings: ROLLBACK_COMPLETE /
   UPDATE_ROLLBACK_COMPLETE / DELETE_FAILED, the reason in its events); resource_steps:
   a failing resource named in its failure, nothing made for a reader of a stack in
   progress, a stack's resources deleted newest first.
3. rds_cluster: AWS::RDS::DBCluster (aurora-postgresql) is backed by the real
   local PostgreSQL server (fargate_platform.local.postgres.LocalPostgres, state
   in <state-dir>/postgres, started when the emulator starts): the master user
   and password (a `{{resolve:ssm-secure:NAME:VERSION}}` reference, resolved from
   moto's SSM) are applied to that server, GetAtt Endpoint.Address/Endpoint.Port
   give its address, DBInstance members of a cluster are no-op resources, and
   nothing is dropped on delete (DeletionPolicy Snapshot/Retain hold trivially).
4. cloudformation_fixes: moto CloudFormation differences from AWS that the
   platform's launches and deletes hit: KMS Key Tags; "No updates are to be
   performed" for unchanged updates; resources moto never deletes with their
   stack (listener rules, target groups, ECS services, the network's route
   tables, gateways, addresses and endpoints); an AWS::IAM::Role's Policies,
   PermissionsBoundary and ManagedPolicyArns applied on update (ManagedPolicyArns
   on create too), and AWS::IAM::ManagedPolicy updated (a new default version).
5. iam_enforcement: IAM enforced as AWS does for requests signed with credentials
   moto's STS issued for a role (the functions' own calls): each request of the
   call (fargate_platform.aws_requests: the call's action on the resources it
   names, and SSM's kms:Encrypt/Decrypt for SecureStrings) is decided by
   fargate_platform.iam_policy under the role's inline and managed policies, its
   permissions boundary and, for KMS, the key's policy, as they are now in moto's
   IAM; a denial is the service's own error (AccessDeniedException, AccessDenied,
   UnauthorizedOperation) with AWS's "User: ... is not authorized to perform: ..."
   message; a request it cannot judge is denied, never allowed silently. The local
   profile's key ("testing", aws_profile.DUMMY_KEY) is the operator's and is not
   judged; any other key is refused (InvalidClientTokenId). Its parts:
   signed_requests (who signed, what is asked), iam_state (moto's roles, policies
   and keys as IAM sees them), iam_errors (AWS's answers per protocol).

6. task_start: a task definition keeps what its template sets (its execution and
   task roles, network mode, size; moto drops them), and before a CloudFormation
   create or update of an ECS service, what the ECS agent does with the execution
   role to start each container (pull from the account's ECR, write the awslogs
   stream, read the SSM secrets) is decided as in 5.; a denial fails the service
   as the deployment circuit breaker does on AWS, with the stopped task's reason.
   The tasks themselves run as in 8.
7. the ALB data plane (data_plane.py starts and stops it): alb_front serves each
   listener of an application load balancer on 127.0.0.1 (the first free port from
   FARGATE_PLATFORM_ALB_PORT_BASE, default 4780, in listener-creation order; HTTPS as
   plain HTTP), routing by the listener's real rules to the healthy targets of
   targets.TABLE (503/502/504 as the ALB); health_checks checks those targets as ELBv2
   does (the group's path, interval, timeout, thresholds and matcher) and sets their
   state; elbv2_fixes answers DescribeTargetHealth from the table and keeps a
   template's TargetGroupAttributes and LoadBalancerAttributes (moto drops them).
8. ecs_services, tasks, awslogs: an AWS::ECS::Service keeps what its template sets
   (LoadBalancers, NetworkConfiguration, DeploymentConfiguration, grace period, launch
   type, tags; DesiredCount 1 when absent; a ScalableTarget's MinCapacity; a new task
   definition revision updates it), and the task supervisor (tasks.SUPERVISOR, started
   and stopped with the emulator by data_plane) runs each service's desiredCount tasks
   as local processes: the container's command in its working folder, with a Fargate
   container's environment only (its variables, its SSM secrets, task-role credentials
   from /_fargate_platform/task-credentials/<token>, PORT/HOST on 127.0.0.1), a
   private IP of its subnet, registered in its target groups (moto's ELBv2 and
   targets.TABLE), its output in its awslogs stream; exited or unhealthy tasks are
   replaced, stops drain then SIGTERM/SIGKILL, new revisions roll within the
   deployment configuration, with the circuit breaker's rollback; describe-tasks and
   the service's runningCount tell the truth; a CloudFormation create or update of a
   service ends once it is stable, or fails with the circuit breaker's message
   (service_stability); ListTasks honours serviceName. Its parts: task_launch (how a
   task starts, with a parent-death signal), task_model (what is kept of a task),
   task_environment (its secrets), task_network (its IP, ENI and targets), task_stop
   (ECS's stop). alb_front's parts: alb_rules (routing), alb_proxy (the
   HTTP side), alb_upstream (the connection to a target).
9. log_masking: a log group's DataProtectionPolicy (moto drops it) masks what it
   names in the events ingested while it is set; GetLogEvents/FilterLogEvents with
   `unmask` show them (logs:Unmask, decided as in 5.).
10. CloudFormation as AWS's where Sceptre users notice: change_sets with
   template_changes (scoped to their stack, UPDATE by default, executed as the other operations, FAILED when empty),
   cloudformation_messages ("Template format error", a stack deleted when its
   notification topic is gone), property_validation (each resource's properties
   against its registry schema, cfn-lint's copy), rollback_modes (OnFailure,
   DisableRollback, RollbackStack), stack_timeouts (TimeoutInMinutes and a DeleteStack's
   cancel, checked by the waits: check_deadline(), seconds_left()), wait_conditions
   (WaitCondition and its handle's signal URL /_fargate_platform/wait-condition/<token>),
   drift with drift_properties and drift_compare (DetectStackDrift and its reads, for
   the platform's resource types).

The emulator also answers a few requests of its own under /_fargate_platform/
(server.py; unsigned, not judged): custom-resource responses, health, the API-call
counter, the IAM decisions by role, the ALB listeners served, the tasks' role
credentials, wait-condition signals and the PostgreSQL server. Everything else is
judged (5.), then moto's.
"""
