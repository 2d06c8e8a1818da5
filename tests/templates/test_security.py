"""What the rendered templates promise, in every environment: isolation, no open
doors, no secrets in the template, data that survives a delete."""
import json
import re

import pytest

ENVIRONMENTS = ("local", "dev", "prod")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)


def resources(template, kind):
    return {title: r for title, r in template["Resources"].items() if r["Type"] == kind}


def stack(templates, environment, name):
    return templates[environment][f"fargate-platform-{environment}-{name}"]


def service_stacks(templates, environment):
    prefix = f"fargate-platform-{environment}-services-"
    return {name[len(prefix):-len("-service")]: t for name, t in templates[environment].items() if name.startswith(prefix)}


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(templates):
    """Every IAM statement of every role and managed policy, with where it is."""
    for environment, stacks in templates.items():
        for stack_name, template in stacks.items():
            for title, resource in template["Resources"].items():
                properties = resource.get("Properties", {})
                documents = []
                if resource["Type"] == "AWS::IAM::Role":
                    documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
                elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                    documents = [properties["PolicyDocument"]]
                for document in documents:
                    for statement in as_list(document["Statement"]):
                        yield f"{stack_name} {title}", statement


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_database_admits_only_the_tasks_and_the_bootstrap_function(templates, environment):
    rds = stack(templates, environment, "rds")
    group = rds["Resources"]["DatabaseSecurityGroup"]["Properties"]
    sources = [rule["SourceSecurityGroupId"] for rule in group["SecurityGroupIngress"]]
    assert sources == [{"Ref": "ContainerSecurityGroupId"}, {"Ref": "BootstrapSecurityGroup"}]
    assert all("CidrIp" not in rule for rule in group["SecurityGroupIngress"])
    extra_ingress = [
        r for r in resources(rds, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Ref": "DatabaseSecurityGroup"}
    ]
    assert extra_ingress == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_load_balancers_are_open_to_the_internet(templates, environment):
    open_groups = set()
    for stack_name, template in templates[environment].items():
        for title, resource in template["Resources"].items():
            if resource["Type"] == "AWS::EC2::SecurityGroup":
                rules = resource["Properties"].get("SecurityGroupIngress", [])
            elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
                rules, title = [resource["Properties"]], json.dumps(resource["Properties"]["GroupId"])
            else:
                continue
            if any(r.get("CidrIp") == "0.0.0.0/0" or r.get("CidrIpv6") == "::/0" for r in rules):
                open_groups.add((stack_name, title))
    assert open_groups == {(f"fargate-platform-{environment}-cluster", "AlbSecurityGroup")}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_container_environment_value_is_a_secret(templates, environment):
    for service, template in service_stacks(templates, environment).items():
        for definition in resources(template, "AWS::ECS::TaskDefinition").values():
            for container in definition["Properties"]["ContainerDefinitions"]:
                for variable in container.get("Environment", []):
                    if SECRET_NAME.search(variable["Name"]):
                        assert variable["Name"].endswith("_PARAMETER"), (service, variable)
                        assert variable["Value"].startswith(f"/fargate-platform/{environment}/{service}/")
                secret_names = {s["Name"] for s in container["Secrets"]}
                assert {"DB_USERNAME", "DB_PASSWORD"} <= secret_names
                for secret in container["Secrets"]:
                    arn = secret["ValueFrom"]["Fn::Sub"]
                    assert f":parameter/fargate-platform/{environment}/{service}/" in arn, secret


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_tasks_run_in_private_subnets_without_public_ip(templates, environment):
    for service, template in service_stacks(templates, environment).items():
        (ecs_service,) = resources(template, "AWS::ECS::Service").values()
        network = ecs_service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        for subnet in network["Subnets"]:
            assert subnet["Fn::Select"][1] == {"Ref": "PrivateSubnetIds"}
        assert ecs_service["DependsOn"] == ["ListenerRule"]
        # autoscaling owns the count: an update must not reset it
        assert "DesiredCount" not in ecs_service["Properties"]
        breaker = ecs_service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
        assert breaker == {"Enable": True, "Rollback": True}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_service_reads_only_its_own_parameters(templates, environment):
    for service, template in service_stacks(templates, environment).items():
        own = f":parameter/fargate-platform/{environment}/{service}/*"
        roles = resources(template, "AWS::IAM::Role")
        execution = roles["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        for statement in execution:
            actions = as_list(statement["Action"])
            if any(a.startswith("ssm:") for a in actions):
                assert statement["Resource"]["Fn::Sub"].endswith(own), statement
            if "kms:Decrypt" in actions:
                condition = statement["Condition"]["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"]
                assert condition["Fn::Sub"].endswith(own)
        task = roles["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        denies = {s["Sid"]: s for s in task if s["Effect"] == "Deny"}
        own_path, path_itself = denies["NoOtherServicesParameters"]["NotResource"]
        assert own_path["Fn::Sub"].endswith(own) and path_itself["Fn::Sub"].endswith(own[:-2])
        assert denies["NoOtherServicesCredentials"]["Condition"]["StringNotLike"][
            "kms:EncryptionContext:PARAMETER_ARN"]["Fn::Sub"].endswith(own)
        for role in roles.values():
            if environment != "local":
                assert role["Properties"]["PermissionsBoundary"]["Fn::Sub"].endswith(
                    f":policy/fargate-platform-{environment}-boundary")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_data_key_and_cluster_survive_a_stack_delete(templates, environment):
    rds = stack(templates, environment, "rds")["Resources"]
    assert rds["DataKey"]["DeletionPolicy"] == rds["DataKey"]["UpdateReplacePolicy"] == "Retain"
    assert rds["DatabaseCluster"]["DeletionPolicy"] == rds["DatabaseCluster"]["UpdateReplacePolicy"] == "Snapshot"
    assert rds["DatabaseCluster"]["Properties"]["StorageEncrypted"] is True
    assert rds["DatabaseClusterParameters"]["Properties"]["Parameters"] == {"rds.force_ssl": "1"}


def test_prod_is_deletion_protected_and_dev_and_local_can_be_torn_down(templates):
    for environment, protected in (("prod", True), ("dev", False), ("local", False)):
        cluster = stack(templates, environment, "rds")["Resources"]["DatabaseCluster"]["Properties"]
        assert cluster["DeletionProtection"] is protected
        for balancer in resources(stack(templates, environment, "cluster"), "AWS::ElasticLoadBalancingV2::LoadBalancer").values():
            attributes = {a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
            assert attributes["deletion_protection.enabled"] == str(protected).lower()
            assert attributes["access_logs.s3.enabled"] == "true"


def test_no_statement_allows_every_action_on_every_resource(templates):
    found = 0
    for where, statement in statements(templates):
        found += 1
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        resources_ = as_list(statement.get("Resource", []))
        assert not ("*" in actions and "*" in resources_), where
    assert found > 20


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_admin_password_is_never_a_template_value(templates, environment):
    rds = stack(templates, environment, "rds")
    password = rds["Resources"]["DatabaseCluster"]["Properties"]["MasterUserPassword"]
    assert password["Fn::Sub"][0] == "{{resolve:ssm-secure:${Name}:${Version}}}"
    assert password["Fn::Sub"][1]["Version"] == {"Fn::GetAtt": ["AdminSecret", "Version"]}
    assert rds["Resources"]["AdminSecret"]["Properties"]["ServiceTimeout"] <= 300
    for stacks in templates.values():
        for template in stacks.values():
            for name in list(template.get("Parameters", {})) + list(template.get("Outputs", {})):
                assert "Password" not in name or name.endswith("Parameter"), name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_https_where_a_certificate_is_configured(templates, environment):
    cluster = stack(templates, environment, "cluster")
    listeners = resources(cluster, "AWS::ElasticLoadBalancingV2::Listener")
    protocols = sorted(l["Properties"]["Protocol"] for l in listeners.values())
    if environment == "local":
        assert protocols == ["HTTP"]
    else:
        assert protocols == ["HTTP", "HTTPS"]
        https = next(l for l in listeners.values() if l["Properties"]["Protocol"] == "HTTPS")
        assert https["Properties"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
        redirect = next(l for l in listeners.values() if l["Properties"]["Protocol"] == "HTTP")
        assert redirect["Properties"]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_service_logs_are_encrypted_kept_and_masked(templates, environment):
    for service, template in service_stacks(templates, environment).items():
        log_group = template["Resources"]["LogGroup"]["Properties"]
        assert log_group["KmsKeyId"] == {"Ref": "LogsKeyArn"}
        assert log_group["RetentionInDays"] > 0
        identifiers = log_group["DataProtectionPolicy"]["Statement"][1]["DataIdentifier"]
        assert any("EmailAddress" in i["Fn::Sub"] for i in identifiers)
        assert "Deidentify" in log_group["DataProtectionPolicy"]["Statement"][1]["Operation"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_security_groups_have_no_default_allow_all_egress_where_they_need_none(templates, environment):
    for stack_name, title in (("cluster", "AlbSecurityGroup"), ("rds", "DatabaseSecurityGroup")):
        group = stack(templates, environment, stack_name)["Resources"][title]["Properties"]
        assert group["SecurityGroupEgress"] == [
            {"CidrIp": "127.0.0.1/32", "Description": "No egress", "IpProtocol": "-1"}
        ], title
