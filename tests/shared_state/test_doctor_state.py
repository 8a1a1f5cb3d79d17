"""``backupbot doctor`` warns when the bot's own state database is one of its restore targets."""

from __future__ import annotations

from typing import Any

from tests.ops.test_doctor import by_name, doctor, setup  # noqa: F401 - the doctor's working setup
from tests.support import pg


def test_state_url_equal_to_a_restore_target_is_a_warning(setup: Any) -> None:  # noqa: F811
    env = dict(setup["env"])
    env["BACKUPBOT_STATE_URL"] = env["APP_RESTORE_URL"]  # the same database, same password
    code, report, text = doctor(env)
    check = by_name(report)["state: not a restore target (app)"]
    assert check["status"] == "warn"
    assert "APP_RESTORE_URL (restore target of 'app') are the same database" in check["detail"]
    assert "overwrite the bot's own state" in check["detail"]
    assert "WARN" in text and "Keep the state in a database of its own" in text


def test_a_separate_state_database_passes(setup: Any) -> None:  # noqa: F811
    with pg.temp_database("bbstate") as url:
        env = dict(setup["env"], BACKUPBOT_STATE_URL=url)
        code, report, text = doctor(env)
        checks = by_name(report)
        assert checks["state: where"]["status"] == "ok"
        assert "schema backupbot" in checks["state: where"]["detail"]
        assert not [k for k in checks if k.startswith("state: not a restore target")]
