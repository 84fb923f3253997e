"""Loading a collections policy: a bad one is refused whole, with file, line and field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collections_builders import STANDARD, policy_text
from riskdesk.cli import app
from riskdesk.collections.policy import (
    COLLECTION_TEMPLATES,
    PolicyError,
    SuspendAction,
    load_policy,
    load_shipped_policy,
    parse_policy,
)
from riskdesk.db.engine import make_engine, migrate
from riskdesk.errors import RiskdeskError
from riskdesk.notify.templates import NOTICES


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _refused(tmp_path, text: str) -> PolicyError:
    path = tmp_path / "standard.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert isinstance(caught.value, RiskdeskError)
    return caught.value


def test_shipped_policy_loads():
    p = load_policy(STANDARD)
    assert p.stage_names == ["reminder", "final_notice", "suspended", "write_off_review"]
    assert p.grace_days == 3 and p.max_suspensions_per_run == 50
    assert p.approval_threshold_for("EUR") == 50000 and p.exempt_tags == ["enforcement_off"]
    assert p.approval_threshold_for("JPY") == 8_000_000
    assert p.approval_threshold_for("BRL") is None  # not listed: a person always decides
    assert p.version == hashlib.sha256(STANDARD.read_bytes()).hexdigest()
    assert p.rules.names == ("write_off_review", "suspended", "final_notice", "reminder")
    scopes = [a.scope for a in p.stage("suspended").actions if isinstance(a, SuspendAction)]
    assert scopes == [{"kind": "consumption"}, {"kind": "seat"}]
    assert p.holds("write_off_review") == (True, True)
    assert p.holds("reminder") == (False, False)


def test_one_approval_threshold_applies_in_every_currency():
    p = parse_policy(policy_text(approval_threshold="1000"), source="standard.yaml")
    assert p.approval_threshold_for("EUR") == p.approval_threshold_for("JPY") == 1000


def test_a_per_currency_threshold_may_name_every_other_currency():
    text = policy_text(approval_threshold='{EUR: 50000, "*": 40000}')
    p = parse_policy(text, source="standard.yaml")
    assert p.approval_threshold_for("EUR") == 50000
    assert p.approval_threshold_for("CHF") == 40000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{EURO: 50000}", "'EURO' is not an ISO 4217 currency code"),
        ("{EUR: -5}", "approval_threshold for EUR: an amount cannot be negative"),
        ("{EUR: lots}", "approval_threshold for EUR: an amount is a number"),
        ("-1", "approval_threshold: an amount cannot be negative"),
    ],
)
def test_a_bad_approval_threshold_is_refused_with_its_line(tmp_path, value, message):
    text = policy_text(approval_threshold=value)
    error = _refused(tmp_path, text)
    line = _line_of(text, "approval_threshold:")
    assert f"standard.yaml:{line}: approval_threshold" in str(error)
    assert message in str(error)


def test_known_templates_are_the_notices_notify_ships():
    assert set(NOTICES) == COLLECTION_TEMPLATES


def test_a_typo_in_a_condition_names_the_stage_and_line(tmp_path):
    text = STANDARD.read_text().replace(
        "when: days_past_due >= 30", "when: days_past_due >= 30 && overdue_amout > 0"
    )
    error = _refused(tmp_path, text)
    line = _line_of(text, "overdue_amout")
    (problem,) = error.problems
    assert str(problem).startswith(
        f"standard.yaml:{line}: stages[2].when: stage 'suspended': "
        "undeclared reference to 'overdue_amout'"
    )
    assert "did you mean 'overdue_amount'" in str(error)


def test_every_bad_condition_is_reported(tmp_path):
    text = (
        STANDARD.read_text()
        .replace("when: days_past_due >= 7", "when: days_pastdue >= 7")
        .replace("when: days_past_due >= 90", "when: days_past_due >= 'ninety'")
    )
    error = _refused(tmp_path, text)
    assert [p.field for p in error.problems] == ["stages[0].when", "stages[3].when"]
    assert "stage 'write_off_review'" in str(error)


def test_a_yaml_syntax_error_names_the_line(tmp_path):
    text = STANDARD.read_text().replace("exempt_tags: [enforcement_off]", "exempt_tags: [enf")
    error = _refused(tmp_path, text)
    (problem,) = error.problems
    assert problem.field == "(yaml)"
    assert "YAML syntax error" in problem.message
    assert _line_of(text, "exempt_tags") <= problem.line <= _line_of(text, "grace_days") + 1


def test_an_unknown_reinstatement_notice_is_refused_naming_the_line(tmp_path):
    text = policy_text(reinstatement_notice="welcome_back")
    error = _refused(tmp_path, text)
    (problem,) = error.problems
    assert (problem.line, problem.field) == (
        _line_of(text, "reinstatement_notice:"),
        "reinstatement_notice",
    )
    assert "unknown template 'welcome_back'" in problem.message


def test_unknown_keys_wrong_types_duplicates_unknown_actions_all_at_once(tmp_path):
    text = (
        policy_text(grace_days="three")
        .replace("max_suspensions_per_run: 50", "max_suspensions_per_run: 50\ncolour: blue")
        .replace("  - name: final_notice", "  - name: reminder")
        .replace("- notify: final_notice", "- notify: final_notise")
        .replace("- open_case: review", "- open_case: review\n      - explode: true")
        .replace("- suspend: {kind: seat}", "- suspend: {kind: gpu}")
        .replace("title: Final notice", "title: Final notice\n    severity: high")
    )
    error = _refused(tmp_path, text)
    got = {(p.line, p.field) for p in error.problems}
    expected = {
        (_line_of(text, "grace_days"), "grace_days"),
        (_line_of(text, "colour"), "colour"),
        (_line_of(text, "severity: high"), "stages[1].severity"),
        (_line_of(text, "final_notise"), "stages[1].actions[0].notify"),
        (_line_of(text, "kind: gpu"), "stages[2].actions[2].suspend"),
        (_line_of(text, "explode"), "stages[3].actions[1]"),
        (_line_of(text, "- name: reminder") + 6, "stages[1].name"),
    }
    assert got == expected, str(error)
    message = str(error)
    assert "duplicate stage name 'reminder'" in message
    assert "unknown key" in message and "unknown template 'final_notise'" in message
    assert "unknown action" in message


def test_duplicate_yaml_keys_are_refused():
    text = STANDARD.read_text().replace("grace_days: 3", "grace_days: 3\ngrace_days: 5")
    with pytest.raises(PolicyError, match="grace_days: duplicate key"):
        parse_policy(text, source="standard.yaml")


def test_missing_fields_and_bad_values():
    text = "name: x\nstages:\n  - name: Reminder!\n    title: t\n    when: 'true'\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.yaml")
    fields = {p.field for p in caught.value.problems}
    assert {"currency_note", "grace_days", "stages[0].name"} <= fields


def test_a_condition_that_is_not_true_or_false_is_refused():
    text = STANDARD.read_text().replace("when: days_past_due >= 7", "when: days_past_due + 7")
    with pytest.raises(PolicyError, match="stage 'reminder': must be true or false"):
        parse_policy(text, source="standard.yaml")


def test_templates_can_be_widened():
    text = STANDARD.read_text().replace("- notify: reminder", "- notify: friendly_nudge")
    with pytest.raises(PolicyError):
        parse_policy(text)
    p = parse_policy(text, templates=COLLECTION_TEMPLATES | {"friendly_nudge"})
    assert p.stage("reminder").actions[0].notify == "friendly_nudge"


def test_missing_file_is_one_policy_error_naming_the_path(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "nope.yaml")
    expected = f"{tmp_path / 'nope.yaml'}: collections policy not found: no such file"
    assert str(caught.value) == expected


def test_a_stage_without_a_condition_is_named(tmp_path):
    text = STANDARD.read_text().replace("    when: days_past_due >= 21\n", "")
    error = _refused(tmp_path, text)
    (problem,) = error.problems
    assert problem.stage == "final_notice" and problem.field == "stages[1].when"
    assert problem.line == _line_of(text, "- name: final_notice")
    assert str(problem).startswith(
        f"standard.yaml:{problem.line}: stages[1].when: stage 'final_notice': a condition is"
    )


def test_an_empty_condition_is_named(tmp_path):
    text = STANDARD.read_text().replace("when: days_past_due >= 90", "when: ' '")
    error = _refused(tmp_path, text)
    (problem,) = error.problems
    line = _line_of(text, "when: ' '")
    assert str(problem) == (
        f"standard.yaml:{line}: stages[3].when: stage 'write_off_review': a condition is required"
    )


def test_a_tab_in_a_stage_names_the_file_line_and_stage(tmp_path):
    text = STANDARD.read_text().replace(
        "      - suspend: {kind: seat}", "\t  - suspend: {kind: seat}"
    )
    error = _refused(tmp_path, text)
    (problem,) = error.problems
    line = _line_of(text, "\t")
    assert problem.line == line and problem.stage == "suspended"
    assert str(problem).startswith(f"standard.yaml:{line}: stages[2] (yaml): stage 'suspended': ")
    assert "tab" in problem.message
    assert f"standard.yaml:{line}:" in str(error) and "stage 'suspended'" in str(error)


def test_a_yaml_error_outside_the_stages_names_no_stage():
    text = STANDARD.read_text().replace("grace_days: 3", "grace_days:\t3\n\tx")
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="standard.yaml")
    (problem,) = caught.value.problems
    assert problem.stage is None and problem.field == "(yaml)"


# --- where the policy is found ---------------------------------------------------------------

runner = CliRunner()


def _cli(*args, env=None):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def _renamed(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STANDARD.read_text().replace("name: standard", f"name: {name}", 1))
    return path


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """Run from a directory that is not the checkout (no policies/ there)."""
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("RISKDESK_POLICY", raising=False)
    monkeypatch.delenv("RISKDESK_CONFIG", raising=False)
    return cwd


def test_the_shipped_policy_is_package_data():
    shipped = load_shipped_policy()
    assert shipped.version == load_policy(STANDARD).version
    assert Path(shipped.source).parts[-3:] == ("riskdesk", "policies", "standard.yaml")


def test_collections_commands_work_from_any_directory(elsewhere, database_url):
    doc = _cli("collections", "policy-doc")
    assert doc.exit_code == 0, doc.output
    assert "# Collections policy: standard" in doc.output
    migrate(engine := make_engine(database_url))
    engine.dispose()
    preview = _cli(
        "--database-url", database_url, "collections", "preview", "--days", "2", "--json"
    )
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.output) == []


def test_a_relative_policy_flag_or_variable_is_read_from_the_current_directory(elsewhere):
    _renamed(elsewhere / "ours" / "p.yaml", "ours")
    flag = _cli("collections", "policy-doc", "--policy", "ours/p.yaml")
    assert flag.exit_code == 0, flag.output
    assert "# Collections policy: ours" in flag.output
    env = _cli("collections", "policy-doc", env={"RISKDESK_POLICY": "ours/p.yaml"})
    assert env.exit_code == 0, env.output
    assert "# Collections policy: ours" in env.output


def test_a_policy_in_the_config_file_is_read_from_the_config_files_directory(elsewhere, tmp_path):
    conf = tmp_path / "etc"
    _renamed(conf / "policies" / "house.yaml", "house")
    (conf / "riskdesk.toml").write_text('[collections]\npolicy = "policies/house.yaml"\n')
    doc = _cli("--config", str(conf / "riskdesk.toml"), "collections", "policy-doc")
    assert doc.exit_code == 0, doc.output
    assert "# Collections policy: house" in doc.output
    # --policy wins over the config file
    _renamed(elsewhere / "flag.yaml", "flagged")
    config = str(conf / "riskdesk.toml")
    flag = _cli("--config", config, "collections", "policy-doc", "--policy", "flag.yaml")
    assert "# Collections policy: flagged" in flag.output


def test_a_missing_policy_is_one_error_naming_the_path(elsewhere):
    result = _cli("collections", "policy-doc", "--policy", "nope.yaml")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "nope.yaml: collections policy not found" in lines[0]
    assert str(elsewhere / "nope.yaml") in lines[0]


def test_a_bad_collections_table_in_the_config_file_is_a_config_error(elsewhere):
    (elsewhere / "riskdesk.toml").write_text('[collections]\npolcy = "x.yaml"\n')
    result = _cli("collections", "policy-doc")
    assert result.exit_code == 2
    assert "riskdesk.toml [collections]: unknown key 'polcy'" in result.output
