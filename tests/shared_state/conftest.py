from tests.bot.conftest import slow_pg_dump  # noqa: F401 - a pg_dump that stalls after its output
