"""`fargate-platform local`: the AWS profile it writes, and what `down` may stop."""
import json

import pytest

from fargate_platform.local import aws_profile, processes

OTHERS = ("# my settings\n[default]\nregion = us-east-1\n\n"
          "[profile work]\nregion = eu-central-1\nrole_arn = arn:aws:iam::1:role/x\n")


def test_the_profile_is_added_replaced_and_removed_leaving_the_rest_intact(tmp_path, monkeypatch):
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(OTHERS)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    aws_profile.write_profile("http://127.0.0.1:4750", "eu-west-1")
    aws_profile.write_profile("http://127.0.0.1:4751", "eu-west-1")  # again: replaced, not added
    text = config.read_text()
    assert text.startswith(OTHERS)
    assert text.count("[profile fargate-platform-local]") == 1
    assert "endpoint_url = http://127.0.0.1:4751" in text and "4750" not in text
    assert "[fargate-platform-local]\naws_access_key_id = testing" in credentials.read_text()
    aws_profile.remove_profile()
    assert config.read_text() == OTHERS
    assert credentials.read_text() == ""


def test_a_profile_in_the_middle_is_replaced_in_place(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.write_text("[profile fargate-platform-local]\nregion = x\nendpoint_url = old\n\n"
                      "[profile work]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    aws_profile.write_profile("http://127.0.0.1:4750", "eu-west-1")
    assert config.read_text() == (
        "[profile fargate-platform-local]\nregion = eu-west-1\n"
        "endpoint_url = http://127.0.0.1:4750\noutput = json\n\n"
        "[profile work]\nregion = eu-central-1\n")


def test_down_never_signals_a_process_that_is_not_this_projects_emulator(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("project_code: x\n")
    local = processes.LocalPlatform(tmp_path, port=4750)
    local.state_dir.mkdir()
    # A stale record naming a live process that is not the emulator (this test itself).
    import os

    local.pid_file.write_text(json.dumps({"pid": os.getpid(), "port": 4750}))
    assert local.stop() is False
    assert local.running() is None


def test_the_project_is_found_from_a_subfolder(tmp_path, monkeypatch):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("project_code: x\n")
    (tmp_path / "config" / "local").mkdir()
    monkeypatch.chdir(tmp_path / "config" / "local")
    assert processes.find_project() == tmp_path
    assert processes.find_project(tmp_path) == tmp_path


def test_a_project_dir_that_is_no_project_is_refused_not_replaced(tmp_path):
    with pytest.raises(processes.LocalError, match=r"--project-dir .*: not a Sceptre project"):
        processes.find_project(tmp_path)
