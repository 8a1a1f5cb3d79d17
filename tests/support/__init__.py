"""Local stand-ins for the outside world: PostgreSQL databases, an S3 server, fake Slack."""
