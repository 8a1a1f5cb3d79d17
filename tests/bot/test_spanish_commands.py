"""`/backup` in Spanish: a team whose config says ``[slack] locale = "es"`` reads every answer in Spanish.

Through the console (``python -m bot`` without Slack tokens): the same grammar, handlers and
permission checks as the Slack app, answered as text. What a Spanish-speaking on-call engineer
would otherwise meet: the help in English, a refusal that does not say why in their language, or
a config error at start-up in English because the file's language was read after the check that
failed. Command syntax (`/backup restore`, `--target`) stays as typed, in code spans.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from commands.base import Invocation
from commands.grammar import dispatch
from commands.registry import subcommands
from core.config import load_config
from jobs.store import Store
from tests.bot.conftest import ROOT
from tests.support.i18n import english_words

CONFIG = """
[storage]
url = "{store}"
sse = "none"

[slack]
locale = "es"
allowed_users = ["U1", "U2"]

[databases.prod]
dump_url_env = "PROD_URL"
approvers = ["U2"]

[databases.staging]
dump_url_env = "STAGING_URL"
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "backupbot.toml"
    config.write_text(CONFIG.format(store=(tmp_path / "store").as_uri()))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "BACKUPBOT_", "PYTEST_")) or k == "BACKUPBOT_STATE_URL"
    }
    env.update({"PYTHONPATH": str(ROOT), "BACKUPBOT_STATE_DIR": str(tmp_path / "state")})
    return config, env


def _run(config: Path, env: dict[str, str], user: str, text: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "--as", user],
        cwd=config.parent,
        env=env,
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def console(config: Path, env: dict[str, str], user: str, script: str, greetings: dict[str, str]) -> str:
    """What the commands in ``script`` answered, without the console's greeting (said before any)."""
    if user not in greetings:
        greetings[user] = _run(config, env, user, "")
    out = _run(config, env, user, script)
    assert out.startswith(greetings[user]), out
    return out[len(greetings[user]) :]


def test_help_usage_errors_and_refusals_are_spanish(setup: tuple[Path, dict[str, str]]) -> None:
    config, env = setup
    greetings: dict[str, str] = {}

    def answer(user: str, command: str) -> str:
        return console(config, env, user, command + "\n", greetings)

    out = answer("U1", "/backup help")
    for spec in subcommands().values():
        assert f"/backup {spec.usage}" in out, spec.name  # every command, as it is typed
    assert "copias de seguridad cifradas de PostgreSQL" in out
    assert "haz una copia de seguridad cifrada ahora" in out  # dump's summary
    assert "Bases de datos: `prod`, `staging`." in out
    assert english_words(out) == [], out

    out = answer("U1", "/backup restore latest prod")
    assert "faltan argumentos obligatorios" in out and "--target" in out, out
    assert "Uso: `/backup restore " in out
    assert english_words(out) == [], out

    out = answer("U1", "/backup dupm prod")
    assert "comando desconocido 'dupm'" in out and "¿Quisiste decir `/backup dump" in out, out
    assert english_words(out) == [], out

    out = answer("U1", '/backup freeze prod --reason "incidente 42"')
    assert "solo un responsable de 'prod' puede congelarla" in out, out
    assert "Pídeselo a uno de ellos." in out
    assert english_words(out) == [], out

    out = answer("U1", "/backup freeze prod")
    assert "`freeze` necesita `--reason`" in out, out
    assert english_words(out) == [], out

    out = answer("U9", "/backup dump prod")
    assert "no tienes permiso para ejecutar comandos de backupbot" in out, out
    assert "`[slack] allowed_users`" in out
    assert english_words(out) == [], out


def test_queued_jobs_lists_and_a_leads_freeze_answer_in_spanish(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """In-process, through ``dispatch`` as Slack and the console call it, with the config the file loads."""
    config, _env = setup
    cfg = load_config(str(config))
    store = Store(tmp_path / "bb.sqlite3")
    try:

        def typed(user: str, text: str) -> str:
            reply = dispatch(text, Invocation(user=user, channel="C1", cfg=cfg, store=store))
            return reply.text + ("\n" + reply.later().text if reply.later else "")

        first = typed("U1", 'dump prod --reason "antes de importar facturas"')
        assert first == "En cola como tarea 1: una copia de seguridad de `prod`.", first
        second = typed("U1", "dump prod")
        assert "Empieza cuando termine la tarea 1." in second and english_words(second) == [], second

        listed = typed("U1", "list staging")
        assert "Aún no hay copias de seguridad de `staging`." in listed and english_words(listed) == [], (
            listed
        )

        refused = typed("U1", "prune prod --confirm")
        assert "solo un responsable puede borrar copias de seguridad de 'prod'" in refused, refused
        assert english_words(refused) == [], refused

        frozen = typed("U2", 'freeze prod --reason "incidente 42"')
        assert frozen.startswith(":snowflake: <@U2> congeló `prod`: se rechazan sus restauraciones"), frozen
        assert english_words(frozen) == [], frozen

        late = typed("U1", "cancel 2")
        assert "cancelada antes de empezar" in late, late
    finally:
        store.close()


def test_a_config_error_at_start_is_spanish_when_the_file_says_es(tmp_path: Path) -> None:
    """The unknown key is found before [slack] is read: the file's locale must already be in force."""
    config = tmp_path / "backupbot.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "{(tmp_path / "store").as_uri()}"
            regoin = "eu-west-1"

            [slack]
            locale = "es"
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BACKUPBOT_", "PYTEST_"))}
    env.update({"PYTHONPATH": str(ROOT), "BACKUPBOT_STATE_DIR": str(tmp_path / "state")})
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "ERROR: ajuste desconocido `regoin` en `[storage]`" in proc.stderr, proc.stderr
    assert "SUGERENCIA: ¿Quisiste decir 'region'?" in proc.stderr
    assert english_words(proc.stderr) == [], proc.stderr
    assert not (tmp_path / "state").exists()  # nothing started

    # The same file in English says it in English: the locale came from the file, not a default.
    config.write_text(config.read_text().replace('locale = "es"', 'locale = "en"'))
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "ERROR: unknown setting 'regoin' in [storage]" in proc.stderr, proc.stderr
