"""`/backup deny JOB`: refuse a restore request (or withdraw your own); see ``commands.approve``."""

from __future__ import annotations

from commands.approve import _spec

SPEC = _spec("deny", "deny a restore request, or withdraw your own")
