"""Log lines as an aggregator reads them: one per event, JSON on request, the job attached, no secrets."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

from core.logs import configure, job_context
from tests.bot.conftest import Bot
from tests.support.fake_slack import FakeSlack

SECRET_URL = "postgresql://root:pa%40ss:w/rd@127.0.0.1:5432/no_such_db_for_logs"


def _capture(fmt: str) -> io.StringIO:
    out = io.StringIO()
    configure("INFO", out, fmt)
    return out


def test_each_record_is_one_line_with_its_job_and_no_secret() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        for fmt in ("json", "text"):
            out = _capture(fmt)
            log = logging.getLogger("backupbot.test")
            with job_context(7, "prod"):
                try:
                    raise RuntimeError(f"could not connect:\n  {SECRET_URL}")
                except RuntimeError:
                    log.exception("dump of %s failed", "prod")
            log.info("token xoxb-1234-5678-abcdef\nsecond line", extra={"event": "said"})
            lines = out.getvalue().splitlines()
            assert len(lines) == 2, lines
            assert "pa%40ss" not in out.getvalue() and "xoxb-1234" not in out.getvalue()
            if fmt == "json":
                first, second = (json.loads(line) for line in lines)
                assert (first["job_id"], first["database"], first["event"]) == (
                    7,
                    "prod",
                    "dump of %s failed",
                )
                assert first["level"] == "ERROR" and first["message"] == "dump of prod failed"
                assert "RuntimeError: could not connect" in first["exc"] and "root:***@" in first["exc"]
                assert (second["job_id"], second["database"], second["event"]) == (None, None, "said")
            else:
                assert " ERROR backupbot.test: [job 7 prod] dump of prod failed ⏎ Traceback" in lines[0]
                assert lines[1].endswith("INFO backupbot.test: token xox?-*** ⏎ second line")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_the_bot_logs_json_lines_for_each_job(bot_env: dict[str, Any], fake_slack: FakeSlack) -> None:
    config = Path(bot_env["env"]["BACKUPBOT_CONFIG"])
    config.write_text(config.read_text() + '\n[databases.broken]\ndump_url_env = "BROKEN_URL"\n')
    env = {**bot_env["env"], "LOG_FORMAT": "json", "BROKEN_URL": SECRET_URL}
    bot = Bot(bot_env["dir"], env).start()
    try:
        assert bot.command("dump app").status_code == 200
        assert bot.command("dump broken").status_code == 200
        deadline = time.monotonic() + 60
        while True:
            records = [json.loads(line) for line in bot.log.read_text().splitlines() if line.strip()]
            ended = {(r["job_id"], r["event"]) for r in records}
            if {(1, "job_succeeded"), (2, "job_failed")} <= ended:
                break
            assert time.monotonic() < deadline, records
            time.sleep(0.2)
    finally:
        bot.stop()
    text = bot.log.read_text()
    assert "pa%40ss" not in text and "pa@ss" not in text and "xoxb-1111-2222-fake" not in text
    by_job = {}
    for r in records:
        if r["job_id"] is not None:
            by_job.setdefault(r["job_id"], []).append((r["database"], r["event"]))
    assert by_job[1][0] == ("app", "job_started") and ("app", "job_succeeded") in by_job[1]
    assert by_job[2][0] == ("broken", "job_started") and ("broken", "job_failed") in by_job[2]
