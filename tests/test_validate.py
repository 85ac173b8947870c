"""`imu validate`'s simulated cases: limits, false sensor problems, progress."""

from imu.validate import Case, format_table, run_validation


def test_a_desk_case_passes_its_limits_and_reports_progress():
    seen = []
    results = run_validation(cases=[Case("desk short", "desk", 0, 240.0)], progress=seen.append)
    assert seen == ["angles and slouches 1/1: desk short"]
    result = results[0]
    assert result.sensor_issues == [] and result.failures() == []
    table = format_table(results)
    assert "1 of 1 cases within their limits" in table and "FAIL" not in table


def test_a_case_outside_its_limits_says_what_failed():
    results = run_validation(cases=[Case("desk short", "desk", 0, 240.0)])
    result = results[0]
    result.sensor_issues = ["thoracic sensor slipped on the skin at 138 s"]
    result.found_episodes += 3  # three false slouches: precision drops
    text = format_table([result])
    assert "FAIL desk short: slouch precision" in text
    assert "FAIL desk short: false sensor problem: thoracic sensor slipped" in text
    assert "0 of 1 cases within their limits" in text
