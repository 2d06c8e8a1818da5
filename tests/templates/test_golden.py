"""Every stack of every environment renders exactly its golden template
(tests/templates/golden/, written only by `bash scripts/regenerate-golden.sh`)."""
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
