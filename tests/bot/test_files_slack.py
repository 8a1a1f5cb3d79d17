"""End to end: `/backup files sync` and `/backup files verify` typed in Slack, answered in the channel.

The bot runs as its own process against fake Slack and two buckets on the local S3
server; the assertions are the messages people read and the objects in the buckets.
"""

from __future__ import annotations

import re
from typing import Any

from tests.bot.conftest import Bot
from tests.support import certs
from tests.support.fake_slack import FakeSlack


def message(fake: FakeSlack, pattern: str, timeout: float = 60) -> Any:
    return fake.wait_for(
        lambda: next((m for m in fake.messages("C1") if re.search(pattern, m.text)), None),
        timeout=timeout,
        what=f"a message matching {pattern!r}",
    )


def test_files_sync_and_verify_from_slack(bot_env: dict[str, Any], fake_slack: FakeSlack) -> None:
    s3 = bot_env["s3"]
    app = s3.new_bucket()
    client = s3.client()
    client.put_object(Bucket=app, Key="certs/old.pem", Body=certs.pem("old.example.com", -2))
    client.put_object(Bucket=app, Key="certs/<!channel>.xml", Body=b"<fine/>")
    client.put_object(Bucket=app, Key="xml/invoice-7.xml", Body=b"<invoice>\n  <total>1</totl>\n</invoice>")
    client.put_object(
        Bucket=app,
        Key="xml/xxe.xml",
        Body=b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    )
    config = bot_env["dir"] / "backupbot.toml"
    config.write_text(
        config.read_text()
        + f'\n[files]\nsource_url = "s3://{app}"\nendpoint_url = "{s3.endpoint_url}"\nregion = "us-east-1"\n'
        'prefixes = ["certs/", "xml/"]\n'
    )
    bot = Bot(bot_env["dir"], {**bot_env["env"], "BACKUPBOT_SCHEDULER": "off"}).start()
    try:
        resp = bot.command("files sync")
        assert (
            resp.status_code == 200 and "Queued a backup of the app's files as job 1" in resp.json()["text"]
        )
        done = message(fake_slack, r"Backup of the app's files — done")
        assert "Copied 4 new or changed file(s) of the app's 4 into the backup" in done.text
        copies = client.list_objects_v2(Bucket=bot_env["bucket"], Prefix="bb/files/data/")["Contents"]
        assert len(copies) == 4

        again = bot.command("files sync").json()["text"]
        assert "job 2" in again
        message(fake_slack, r"Nothing changed in the app's bucket: all 4 file\(s\) were already backed up")

        resp = bot.command("files verify")
        assert "Queued a check of the backed-up app files as job 3" in resp.json()["text"]
        failed = message(fake_slack, r"Check of the backed-up app files — failed")
        text = failed.text
        assert "2 of 4 backed-up app file(s) failed the check" in text
        assert "4 file(s) checked" in text and "1 certificate(s) expired" in text
        assert "xml/invoice-7.xml` — malformed XML: mismatched tag at line 2" in text
        assert "xml/xxe.xml` — unsafe XML: declares entity 'x' file:///etc/passwd" in text
        assert "old.example.com" in text and "Expired certificates:" in text
        assert "root:" not in text  # nothing of the local file was read into the report
        # the file name from the app's bucket reaches Slack escaped, never as a mention
        assert "`certs/&lt;!channel&gt;.xml`" in done.text
        assert "<!channel>" not in str([c.params for c in fake_slack.api_calls()])
        alert = message(fake_slack, r"The backup of the app's files has bad files \(job 3\)")
        assert "xml/xxe.xml" in alert.text
        assert len([m for m in fake_slack.messages("C1") if "has bad files" in m.text]) == 1

        usage = bot.command("files rm").json()["text"]
        assert "invalid choice: 'rm'" in usage and "/backup files sync|verify|list" in usage
    finally:
        bot.stop()
