"""A pipeline's dump that fails after its object was stored (the manifest write refused) reports
that failure, not the delete its credential may not make; nothing is listed as a backup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.iam.test_policies import role_env, run
from tests.support.iam import IAMServer
from tests.support.s3proxy import S3Proxy, s3_error


class RefuseManifests(S3Proxy):
    """Refuses the one JSON PUT of a dump (its manifest); the object and the probe get through."""

    def intercept_request(self, command: str, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        if command == "PUT" and headers.get("content-type") == "application/json":
            return 403, s3_error("AccessDenied", "Access Denied")
        return None


def test_manifest_write_refused_reports_the_write_not_the_cleanup(
    tmp_path: Path, iam_server: IAMServer, realistic_db: str, backup_key: str
) -> None:
    proxy = RefuseManifests(iam_server.endpoint_url)
    try:
        env = role_env(tmp_path, iam_server, "pipeline", backup_key, realistic_db)
        config = Path(env["BACKUPBOT_CONFIG"])
        config.write_text(config.read_text().replace(iam_server.endpoint_url, proxy.endpoint_url))
        before = run(env, "list", "--json")
        assert before.returncode == 0, before.stderr
        dump = run(env, "dump", "--kind", "pre-migration")
        assert dump.returncode != 0
        error = next(line for line in dump.stderr.splitlines() if line.startswith("ERROR:"))
        assert "refused to write" in error and ".manifest.json" in error and "s3:PutObject denied" in error
        assert "could not delete" in dump.stderr and "not a backup without its manifest" in dump.stderr
        after = run(env, "list", "--json")
        assert json.loads(after.stdout) == json.loads(before.stdout), "a failed dump is never listed"
    finally:
        proxy.stop()
