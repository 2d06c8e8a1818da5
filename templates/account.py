"""The account stacks: what an AWS account needs before any environment is launched in it,
launched by an administrator with `sceptre launch account` (docs/ci.md).

- identity (config/account/identity.yaml): the ECS service-linked role and GitHub's OpenID
  Connect identity provider (each optional: IAM holds one per account, it may exist);
- one stack per environment the account hosts (config/account/<env>.yaml):
  - `fargate-platform-<env>-boundary`, the permissions boundary every role the platform
    creates in that environment carries: the most its workloads and functions may ever do;
  - a deploy role, assumable only by this repository's workflow jobs that run in the
    GitHub environment `<env>`, with the permissions the platform's stacks need and no
    way to create a role without the boundary (so the pipeline cannot mint an administrator);
  - a read-only diff role for the GitHub environment `<env>-diff`, so a pipeline can print
    `sceptre diff` before a reviewer approves the deploy (it reads no secret, changes nothing).

One stack per environment keeps each template under CloudFormation's 51,200-byte body limit
and lets dev and prod live in different accounts. The roles are named
`fargate-platform-account-<env>-...`, outside every environment's `fargate-platform-<env>-`
prefix that the deploy roles may manage.

This module builds the two templates; the policies are in boundary.py and deploy_role.py,
the settings and an environment's names in account_settings.py, the statement style in iam.py.
"""
from troposphere import GetAtt, Output, iam

from fargate_platform.templates import common
from fargate_platform.templates.account_settings import (
    PROJECT_CODE,
    AccountConfigError,
    EnvironmentScope,
    EnvironmentSettings,
    IdentitySettings,
)
from fargate_platform.templates.boundary import boundary_statements
from fargate_platform.templates.deploy_role import (
    GITHUB_OIDC_HOST,
    STS_AUDIENCE,
    deploy_policies,
    diff_statements,
    github_provider_arn,
    github_trust,
)
from fargate_platform.templates.iam import policy_document

# GitHub's certificate thumbprints: IAM no longer checks them for this provider (it trusts
# the CA library), but older API clients require the list.
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]


def identity_template(settings):
    template = common.new_template(f"{PROJECT_CODE} account: ECS service-linked role and GitHub's OIDC provider")
    if settings.create_ecs_service_linked_role:
        template.add_resource(
            iam.ServiceLinkedRole(
                "EcsServiceLinkedRole",
                AWSServiceName="ecs.amazonaws.com",
                Description="Lets ECS manage the platform's Fargate tasks, load balancer targets and ENIs",
                # Kept on delete: other ECS workloads in the account may rely on it.
                DeletionPolicy="Retain",
                UpdateReplacePolicy="Retain",
            )
        )
    if settings.create_oidc_provider:
        provider = template.add_resource(
            iam.OIDCProvider(
                "GitHubOidcProvider",
                Url=f"https://{GITHUB_OIDC_HOST}",
                ClientIdList=[STS_AUDIENCE],
                ThumbprintList=GITHUB_THUMBPRINTS,
            )
        )
        provider_arn = provider.ref()
    else:
        provider_arn = github_provider_arn()
    template.add_output(Output("GitHubOidcProviderArn", Value=provider_arn, Description="GitHub's OIDC identity provider"))
    return template


def environment_template(settings):
    env = EnvironmentScope(settings.environment)
    template = common.new_template(
        f"{PROJECT_CODE} account: the permissions boundary, deploy role and diff role of {env.name}"
    )
    boundary = template.add_resource(
        iam.ManagedPolicy(
            "Boundary",
            ManagedPolicyName=env.boundary_name,
            Description=f"{PROJECT_CODE} {env.name}: the most any role of the environment may do",
            PolicyDocument=policy_document(boundary_statements(env)),
        )
    )
    common.output(template, "BoundaryArn", boundary.ref(), f"The permissions boundary of every role in {env.name}")
    if settings.boundary_only:
        return template
    policies = []
    for part, statements in deploy_policies(env).items():
        policies.append(
            template.add_resource(
                iam.ManagedPolicy(
                    "Deploy" + "".join(word.capitalize() for word in part.split("-")),
                    ManagedPolicyName=f"{env.deploy_role_name}-{part}",
                    Description=f"{PROJECT_CODE} {env.name}: what the pipeline needs to launch the platform ({part})",
                    PolicyDocument=policy_document(statements),
                )
            )
        )
    deploy_role = template.add_resource(
        iam.Role(
            "DeployRole",
            RoleName=env.deploy_role_name,
            Description=f"{PROJECT_CODE} {env.name}: the GitHub environment '{env.name}' deploys with it",
            AssumeRolePolicyDocument=github_trust(github_provider_arn(), settings.repository, env.name),
            ManagedPolicyArns=[policy.ref() for policy in policies],
            # A whole environment's first launch (Aurora included) outlasts one hour.
            MaxSessionDuration=7200,
            DependsOn=[boundary.title],
        )
    )
    diff_role = template.add_resource(
        iam.Role(
            "DiffRole",
            RoleName=env.diff_role_name,
            Description=f"{PROJECT_CODE} {env.name}: read-only, for sceptre diff before a deploy is approved",
            AssumeRolePolicyDocument=github_trust(github_provider_arn(), settings.repository, f"{env.name}-diff"),
            Policies=[iam.Policy(PolicyName="diff", PolicyDocument=policy_document(diff_statements(env)))],
        )
    )
    common.output(template, "DeployRoleArn", GetAtt(deploy_role, "Arn"), f"Assumed by the GitHub environment '{env.name}'")
    common.output(template, "DiffRoleArn", GetAtt(diff_role, "Arn"), f"Assumed by the GitHub environment '{env.name}-diff'")
    return template


def sceptre_handler(sceptre_user_data):
    if not isinstance(sceptre_user_data, dict):
        raise AccountConfigError("config/account/: the stack's sceptre_user_data must be a mapping")
    if "environment" in sceptre_user_data:
        return common.to_json(environment_template(EnvironmentSettings(sceptre_user_data)))
    return common.to_json(identity_template(IdentitySettings(sceptre_user_data)))
