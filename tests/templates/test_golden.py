"""Every stack of every environment renders exactly its golden template
(tests/templates/golden/, written only by `bash scripts/regenerate-golden.sh`)."""
import json

import golden


def test_every_stack_renders_its_golden_template(rendered_project):
    _, rendered = rendered_project
    report = golden.differences(rendered)
    assert not report, (
        f"the rendered CloudFormation differs from the golden templates. If the change is "
        f"meant, run `{golden.REGENERATE}` and commit the golden files with it.\n{report}")


def test_the_golden_files_mirror_the_stack_files():
    stacks = {path for environment in golden.environments(golden.PROJECT)
              for path in golden.stack_paths(golden.PROJECT, environment)}
    files = {str(p.relative_to(golden.GOLDEN).with_suffix("")) for p in golden.GOLDEN.rglob("*.json")}
    assert files == stacks


def test_a_template_change_without_regeneration_is_a_readable_diff(rendered_project):
    _, rendered = rendered_project
    changed = json.loads(json.dumps(rendered))
    changed["dev/cluster"]["Description"] = "something else"
    del changed["local/rds"]
    report = golden.differences(changed)
    assert "dev/cluster: the CloudFormation changed:\n--- golden/dev/cluster.json\n" \
           "+++ rendered dev/cluster\n" in report
    assert '+  "Description": "something else",' in report
    assert "local/rds: golden file for a stack that no longer exists" in report
    assert "prod/" not in report  # only what changed


def test_sceptre_renders_the_same_in_process_as_through_its_cli(rendered_project):
    project, rendered = rendered_project
    assert golden.render_in_process(project, "prod") == {
        path: template for path, template in rendered.items() if path.startswith("prod/")}
