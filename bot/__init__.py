"""Slack surface: Bolt app, listeners per kind, the local console; renders Block Kit."""
