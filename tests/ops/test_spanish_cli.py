"""The `backupbot` command in Spanish: `[slack] locale = "es"` in the config file it reads.

What a Spanish-speaking engineer runs in a terminal — dump, list, show, a command typed wrong,
a bucket that does not exist — reads in Spanish, with nothing English left but code, ids and
what S3 itself answered. What a pipeline parses stays the same in every language: `--json`
output is identical to the English run, and `dump` keeps the backup id as the second word of
its first line.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import ConfigWriter
from tests.engine.conftest import run_cli
from tests.support.i18n import english_words
from tests.support.s3server import S3Server

ID = re.compile(r"\bapp-\d{8}T\d{6}Z-manual-[0-9a-z]{4}\b")


def configs(write_config: ConfigWriter, s3_server: S3Server, bucket: str, db_url: str) -> tuple[str, str]:
    """The same deployment twice: a Spanish config and an English one (no [slack] locale).

    The prefix is the team's own word ("copias"): a path is data, shown as it is in any language."""
    english = write_config(f"s3://{bucket}/copias", {"app": db_url}, endpoint_url=s3_server.endpoint_url)
    spanish = english.with_name("backupbot-es.toml")
    spanish.write_text(english.read_text() + '\n[slack]\nlocale = "es"\n')
    return str(spanish), str(english)


def cli(config: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--config", config, *args)


def no_english(text: str) -> None:
    assert text.strip(), "nothing was printed"
    assert english_words(text) == [], text


@pytest.fixture
def deployment(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, realistic_db: str, backup_key: str
) -> tuple[str, str]:
    return configs(write_config, s3_server, s3_bucket, realistic_db)


def test_dump_list_and_show_speak_spanish_and_json_does_not_change(deployment: tuple[str, str]) -> None:
    es, en = deployment
    dumped = cli(
        es, "dump", "--database", "app", "--reason", "antes de migrar", "--requested-by", "cli:ana@ops"
    )
    assert dumped.returncode == 0, dumped.stderr
    first = dumped.stdout.splitlines()[0]
    backup_id = first.split()[1]
    assert ID.fullmatch(backup_id) and first == f"copia {backup_id} guardada"
    assert "volcado:" in dumped.stdout and "(pg_dump -Fc en claro)" in dumped.stdout
    no_english(dumped.stdout)

    listed = cli(es, "list")
    assert listed.returncode == 0, listed.stderr
    header = listed.stdout.splitlines()[0].split()
    assert header[:4] == ["ID", "BASE", "DE", "DATOS"] and "ANTIGÜEDAD" in header and "MOTIVO" in header
    assert backup_id in listed.stdout and "antes de migrar" in listed.stdout
    no_english(listed.stdout)

    shown = cli(es, "show", backup_id)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^pedida por\s+cli:ana@ops$", shown.stdout, re.M)
    assert re.search(r"^tamaño del volcado\s+\S+ \S+ \(\d+ bytes\)$", shown.stdout, re.M)
    assert re.search(r"^cifrado\s+AES-256-GCM-chunked-v2, id de clave [0-9a-f]{16}$", shown.stdout, re.M)
    no_english(shown.stdout)

    # Machine output is the same in both languages: keys, values, kinds, dates.
    for args in (("list",), ("show", backup_id), ("list", "--database", "app", "--limit", "1")):
        spanish, english = cli(es, "--json", *args), cli(en, "--json", *args)
        assert spanish.returncode == english.returncode == 0
        assert json.loads(spanish.stdout) == json.loads(english.stdout), args
    # `where` names each config file; everything else, its sentence on the state folder too, is equal.
    spanish_where, english_where = (json.loads(cli(c, "--json", "where").stdout) for c in (es, en))
    assert spanish_where.pop("config") == es and english_where.pop("config") == en
    assert spanish_where == english_where and spanish_where["state_dir_from"] == "from BACKUPBOT_STATE_DIR"
    assert "(de `BACKUPBOT_STATE_DIR`)" in cli(es, "where").stdout
    dumped_json = json.loads(cli(es, "--json", "dump", "--database", "app").stdout)
    assert dumped_json["kind"] == "manual" and ID.fullmatch(dumped_json["id"])
    assert json.loads(cli(en, "--json", "show", dumped_json["id"]).stdout).keys() == dumped_json.keys()


def test_help_is_spanish_including_argparse_own_words(deployment: tuple[str, str]) -> None:
    """The help is built before any subcommand reads the config; it is Spanish all the same,
    argparse's own words too ("usage:", "options:", "-h"); command names and metavars are syntax."""
    es, en = deployment
    top, top_en, dump_help = cli(es, "--help"), cli(en, "--help"), cli(es, "dump", "--help")
    assert top.returncode == top_en.returncode == dump_help.returncode == 0
    spanish, english, dump_text = (" ".join(p.stdout.split()) for p in (top, top_en, dump_help))  # unwrapped
    assert "Copias de seguridad cifradas de PostgreSQL, restauraciones y rotación." in spanish
    assert "hacer ahora una copia de seguridad cifrada de una base de datos" in spanish
    assert "take an encrypted backup of a database now" in english
    assert "take an encrypted backup" not in spanish and "machine-readable" not in spanish
    assert "por qué (se muestra en list y en el manifiesto)" in dump_text
    assert "salida legible por máquina" in dump_text and "why (shown" not in dump_text
    assert (
        dump_text.startswith("uso: backupbot dump")
        and "opciones: -h, --help muestra esta ayuda y sale" in dump_text
    )
    assert english.startswith("usage: backupbot") and "show this help message and exit" in english


def test_a_command_typed_wrong_is_refused_in_spanish(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, pg_db: str, backup_key: str
) -> None:
    english = write_config(
        f"s3://{s3_bucket}/copias", {"app": pg_db, "otra": pg_db}, endpoint_url=s3_server.endpoint_url
    )
    spanish = english.with_name("backupbot-es.toml")
    spanish.write_text(english.read_text() + '\n[slack]\nlocale = "es"\n')

    which = cli(str(spanish), "dump")
    assert which.returncode == 2 and which.stdout == ""
    assert which.stderr.splitlines() == [
        "ERROR: ¿qué base de datos?",
        "DETALLE: Configuradas: app, otra.",
        "SUGERENCIA: Pasa --database NAME.",
    ]
    no_english(which.stderr)

    limit = cli(str(spanish), "list", "--limit", "muchas")
    assert limit.returncode == 2 and "se esperaba un número entero y llegó 'muchas'" in limit.stderr
    # argparse's frame is ours to translate too: the usage line (syntax) then the error, in Spanish.
    usage, reason = limit.stderr.splitlines()[0], limit.stderr.splitlines()[-1]
    assert usage.startswith("uso: backupbot list")
    assert (
        reason == "backupbot list: error: argumento `--limit`: se esperaba un número entero y llegó 'muchas'"
    )
    no_english(reason)
    extra = cli(str(spanish), "prune", "app")
    assert (
        extra.returncode == 2
        and extra.stderr.splitlines()[-1] == "backupbot: error: argumentos no reconocidos: app"
    )
    assert (
        cli(str(english), "prune", "app").stderr.splitlines()[-1]
        == "backupbot: error: unrecognized arguments: app"
    )

    spanish_json, english_json = cli(str(spanish), "--json", "dump"), cli(str(english), "--json", "dump")
    assert spanish_json.returncode == english_json.returncode == 2
    spanish_err, english_err = json.loads(spanish_json.stdout), json.loads(english_json.stdout)
    assert (
        spanish_err.keys() == english_err.keys()
        and spanish_err["error"] == english_err["error"] == "UsageError"
    )
    assert english_err["message"] == "which database?" and spanish_err["message"] == "¿qué base de datos?"


def test_an_unknown_backup_id_is_refused_in_spanish(deployment: tuple[str, str]) -> None:
    es, en = deployment
    wanted = "app-20990101T000000Z-manual-9zzz"
    refused = cli(es, "show", wanted)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines()[0] == f"ERROR: ninguna copia de seguridad tiene el id '{wanted}'"
    assert "SUGERENCIA: Ejecuta `backupbot list` para ver los ids" in refused.stderr
    no_english(refused.stderr)
    spanish_json, english_json = (json.loads(cli(c, "--json", "show", wanted).stdout) for c in (es, en))
    assert spanish_json["error"] == english_json["error"] == "NotFoundError"


def test_a_storage_fault_is_explained_in_spanish(
    write_config: ConfigWriter, s3_server: S3Server, pg_db: str, backup_key: str
) -> None:
    es, en = configs(write_config, s3_server, "bb-no-such-bucket-here", pg_db)
    failed = cli(es, "list")
    assert failed.returncode == 1 and failed.stdout == ""
    error, detail, hint = failed.stderr.splitlines()
    assert error.startswith(
        "ERROR: el almacenamiento se negó a listar db/ en s3://bb-no-such-bucket-here/copias/"
    )
    assert error.endswith(": NoSuchBucket")
    assert hint == "SUGERENCIA: Crea el bucket o corrige [storage] url."
    # The DETAIL line is S3's own answer, verbatim: what to search for, in the provider's words.
    assert detail.startswith("DETALLE: ") and "NoSuchBucket" in detail
    no_english(f"{error}\n{hint}")

    spanish_json, english_json = cli(es, "--json", "list"), cli(en, "--json", "list")
    assert spanish_json.returncode == english_json.returncode == 1
    spanish_err, english_err = json.loads(spanish_json.stdout), json.loads(english_json.stdout)
    assert spanish_err["error"] == english_err["error"] == "StorageError"
    assert spanish_err["detail"] == english_err["detail"]
    assert english_err["message"].startswith("storage refused to list db/ in s3://bb-no-such-bucket-here/")


def test_a_database_that_does_not_answer_is_explained_in_spanish(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, backup_key: str
) -> None:
    es, _en = configs(write_config, s3_server, s3_bucket, "postgresql://root:Sekr3t@127.0.0.1:1/app")
    failed = cli(es, "dump", "--database", "app")
    assert failed.returncode == 1 and failed.stdout == ""
    lines = failed.stderr.splitlines()
    assert lines[0] == "ERROR: la base de datos 'app' no responde"
    assert lines[-1] == (
        "SUGERENCIA: Comprueba que el servidor esté en marcha y que el host, el puerto, el usuario y la "
        "contraseña de la URL de volcado sean correctos."
    )
    # Between them, DETALLE quotes libpq's own words; the password is never among them.
    assert lines[1].startswith("DETALLE: root@127.0.0.1:1/app: ") and "Sekr3t" not in failed.stderr
    no_english(f"{lines[0]}\n{lines[-1]}")
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0
