from tests.bot.conftest import slow_pg_dump  # noqa: F401 - a pg_dump that stalls after its output
from tests.restore.conftest import scene  # noqa: F401 - a backup of 'app' and a 'staging' target with hooks
