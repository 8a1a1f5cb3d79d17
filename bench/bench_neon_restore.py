"""Time from an approved Neon restore starting to `maintenance_off` done, per source kind.

Runs the real Neon runbook (engine.neon_restore, the code an approved job runs) against the
local fake Neon API (tests/support/fake_neon.py, spec-checked), with the default poll
interval (1 s) and operations that finish on their third poll, as Neon's usually do within
seconds. The maintenance hooks are `true`. What it measures is our side: the calls, the
polling and the hooks; Neon's own operation time on a real project adds to "wait".
With ``--slack`` it also runs `python -m bot` against fake Slack and times what a person
sees: from the signed Approve click to the thread line "7/8 Maintenance off: ok".
Run: `.venv/bin/python bench/bench_neon_restore.py [--rounds 3] [--poll 1.0] [--op-polls 2] [--slack]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from engine.neon_restore import run_neon_restore  # noqa: E402
from engine.neon_restore_plan import plan_neon_restore  # noqa: E402
from engine.restore_report import RestoreRequest  # noqa: E402
from tests.support.fake_neon import FakeNeon  # noqa: E402

PID = "bench-project-1"
KEY = "bench-key-123456"


def one(cfg_path: Path, fake: FakeNeon, ref: str) -> dict[str, float]:
    cfg = load_config(str(cfg_path))
    plan = plan_neon_restore(cfg, ref, "prod")
    req = RestoreRequest(
        backup_id=plan.source.ref, target="prod", requested_by="bench", approved_by=("lead",)
    )
    before = len(fake.calls)
    started = time.monotonic()
    report = run_neon_restore(cfg, req, {"backup_id": plan.source.ref, **plan.params()})
    total = time.monotonic() - started
    steps = {s.key: s.seconds or 0.0 for s in report.steps}
    upto = sum(
        steps[k]
        for k in ("lock", "maintenance_on", "restore", "wait", "migrate", "health", "maintenance_off")
    )
    return {
        "restore": steps["restore"],
        "wait": steps["wait"],
        "to_off": upto,
        "total": total,
        "calls": len(fake.calls) - before,
    }


def through_slack(
    tmp: Path, cfg_path: Path, fake: FakeNeon, refs: list[tuple[str, str]]
) -> list[tuple[str, float]]:
    """Approve click → "Maintenance off" in the thread, through the real bot process."""
    import re

    from tests.bot.conftest import SECRET, Bot
    from tests.support.fake_slack import FakeSlack
    from tests.support.slack_signing import action_body, command_body, post_signed

    slack = FakeSlack()
    text = cfg_path.read_text().replace(
        "[databases.prod]", '[slack]\nchannel = "C1"\n\n[databases.prod]\napprovers = ["U0LEAD"]'
    )
    cfg_path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_",))}
    env.update(
        {
            "BACKUPBOT_CONFIG": str(cfg_path),
            "SLACK_BOT_TOKEN": "xoxb-1-2-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
        }
    )
    bot = Bot(tmp, env).start()
    out = []
    try:
        for label, ref in refs:
            name = f"r{time.monotonic_ns()}"
            post_signed(
                bot.url,
                SECRET,
                command_body(f"restore {ref} --target prod", "U0DEV", "C1", slack.response_url(name)),
            )
            reply = slack.wait_for(lambda n=name: slack.responses.get(n), what="request")[0]["text"]
            job = int(re.search(r"request (\d+) posted", reply).group(1))
            msg = slack.wait_for(
                lambda j=job: next(
                    (m for m in slack.messages("C1") if f"(job {j})" in m.text and m.blocks), None
                ),
                what="card",
            )
            value = next(
                e["value"]
                for b in msg.blocks
                if b["type"] == "actions"
                for e in b["elements"]
                if e["action_id"] == "restore_approve"
            )
            clicked = time.monotonic()
            post_signed(bot.url, SECRET, action_body("restore_approve", value, "U0LEAD", "C1", "", msg.ts))
            slack.wait_for(
                lambda ts=msg.ts: any(
                    "7/8 Maintenance off" in m.text and "ok" in m.text.lower() for m in slack.thread(ts)
                ),
                timeout=120,
                what="maintenance off",
            )
            out.append((label, time.monotonic() - clicked))
            time.sleep(1.05)
    finally:
        bot.stop()
        slack.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--poll", type=float, default=1.0)
    ap.add_argument("--op-polls", type=int, default=2)
    ap.add_argument(
        "--slack", action="store_true", help="also time approve click → maintenance off via the bot"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-neon-"))
    fake = FakeNeon(api_key=KEY)
    fake.branch_limit = 1000
    fake.op_polls = args.op_polls
    main_branch = fake.add_project(PID)
    os.environ.update(
        {"NEON_API_URL": fake.url, "NEON_API_KEY": KEY, "BACKUPBOT_STATE_DIR": str(tmp / "state")}
    )
    true = shutil.which("true") or "/bin/true"
    cfg_path = tmp / "backupbot.toml"
    cfg_path.write_text(
        f'[storage]\nurl = "{(tmp / "store").as_uri()}"\n\n[neon]\npoll_interval_seconds = {args.poll}\n\n'
        f'[databases.prod]\nneon_project_id = "{PID}"\nmigrate = []\n'
        f'maintenance_on = ["{true}"]\nmaintenance_off = ["{true}"]\n'
    )
    rows: dict[str, list[dict[str, float]]] = {}
    for r in range(args.rounds):
        fake._new_branch(PID, f"backup-bench-{r}", main_branch, f"v{r}")
        snap = fake.add_snapshot(PID, f"snap-{r}", f"s{r}", main_branch["id"])
        moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
        for label, ref in (
            ("neon:BRANCH", f"neon:backup-bench-{r}"),
            ("neon@TIMESTAMP", f"neon@{moment}"),
            ("neon-snapshot:NAME", f"neon-snapshot:{snap['name']}"),
        ):
            rows.setdefault(label, []).append(one(cfg_path, fake, ref))
            time.sleep(1.05)  # a new preserved name (seconds in the stamp)
    slack_rows: list[tuple[str, float]] = []
    if args.slack:
        fake._new_branch(PID, "backup-bench-slack", main_branch, "vs")
        snap = fake.add_snapshot(PID, "snap-slack", "ss", main_branch["id"])
        moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
        slack_rows = through_slack(
            tmp,
            cfg_path,
            fake,
            [
                ("neon:BRANCH", "neon:backup-bench-slack"),
                ("neon@TIMESTAMP", f"neon@{moment}"),
                ("neon-snapshot:NAME", f"neon-snapshot:{snap['name']}"),
            ],
        )
    fake.stop()
    assert not fake.validation_errors, fake.validation_errors
    print(
        f"poll interval {args.poll} s, operations finish on poll {args.op_polls + 1}, {args.rounds} rounds (median)"
    )
    print(
        f"{'source':<20} {'Neon call':>10} {'wait ops':>10} {'start→maintenance_off':>22} {'API calls':>10}"
    )
    for label, runs in rows.items():
        med = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
        print(
            f"{label:<20} {med['restore']:>9.2f}s {med['wait']:>9.2f}s {med['to_off']:>21.2f}s {med['calls']:>10.0f}"
        )
    if slack_rows:
        print("\nthrough the bot: signed Approve click → thread line '7/8 Maintenance off: ok'")
        for label, secs in slack_rows:
            print(f"{label:<20} {secs:>9.2f}s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
