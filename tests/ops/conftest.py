"""Operating the bot: freezes, history, metrics, doctor, templates. Fixtures borrowed from other areas."""

from tests.bot.conftest import bot_env, fake_slack  # noqa: F401 - a bot process's config, env and fake Slack
from tests.bot.test_console import restore_console  # noqa: F401 - a console with a backup and two targets
from tests.restore.conftest import scene  # noqa: F401, E402 - a backup of app in S3 and a staging target with hooks
