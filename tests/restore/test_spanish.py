"""A restore's request card and runbook entry in Spanish (`[slack] locale = "es"`).

What an on-call engineer reading Spanish sees: the card's lines (the field names as the
renderers show them, with ``_()``) and the runbook entry the run posts and stores. The
words that other layers put into a line (the archive's contents from ``pg_inspect``, a
database's description from ``pg_databases``) are their catalogs' business and are
taken out before looking for English, so this test checks every word this area writes.
"""

from __future__ import annotations

import re

from adapters import pg_databases
from adapters.storage import open_storage
from core import i18n
from core.i18n import _
from engine.dump import run_dump
from engine.restore import RestoreRequest, run_restore
from engine.restore_plan import preflight
from tests.restore.conftest import Scene
from tests.support.i18n import english_words


def _in_spanish(scene: Scene) -> None:
    text = scene.cfg_path.read_text()
    text = text.replace('channel = "C0BACKUPS"', 'channel = "C0BACKUPS"\nlocale = "es"')
    text = text.replace(
        'restore_url_env = "APP_RESTORE_URL"', 'restore_url_env = "APP_RESTORE_URL"\nglobals = true'
    )
    # No hooks or migrations: their lines would show the commands, which are the team's own words.
    text = re.sub(r"^(maintenance_on|maintenance_off|migrate_cwd) = .*$", "", text, flags=re.M)
    text = re.sub(r"^migrate = .*$", "migrate = []", text, flags=re.M)
    text = text.replace(
        'health_checks = ["select count(*) > 0 from customers", "select 1 from invoices limit 1"]',
        'health_checks = ["select count(*) > 0 from customers"]',
    )
    scene.cfg_path.write_text(text)


def test_request_card_and_runbook_entry_are_spanish(scene: Scene) -> None:
    _in_spanish(scene)
    try:
        cfg = scene.cfg
        assert i18n.current_locale() == "es"
        backup = run_dump(cfg, "app", kind="manual", requested_by="U0DEV")
        store = scene.store()
        pre = preflight(cfg, backup, "staging", state=store)
        card = "\n".join(f"*{_(name)}:* {value}" for name, value in pre.fields.items())
        assert pre.archive.describe() in card  # adapters' summary of the archive, in Spanish too
        assert pg_databases.identity(cfg.database("staging").restore_url()).describe() in card
        assert english_words(card) == [], card
        assert "*Copia de seguridad:*" in card and "*Método de restauración:* `clean`, en el sitio" in card
        assert "*Roles que se crearán:* ninguno: " in card
        assert "*Se sobrescribirá:* 3 de las 3 tablas del destino (las que también tiene la copia)" in card

        request = RestoreRequest(backup.id, "staging", "U0DEV", ("U0LEAD1",), "simulacro de restauración")
        report = run_restore(cfg, request, state=store)
        assert report.succeeded
        entry = open_storage(cfg.storage).get_bytes(report.runbook_key).decode()
        assert entry == report.runbook_text
        assert english_words(entry) == [], entry
        assert entry.startswith(f"## Restauración {report.restore_id}: correcta\n")
        assert "| 4 | Crear los roles que faltan | correcto |" in entry
        assert "- Aprobada por: U0LEAD1" in entry
        assert "- Deshacer: `backupbot restore " in entry
    finally:
        i18n.set_locale("en")
