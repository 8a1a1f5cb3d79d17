"""`/backup deny JOB`: refuse a restore request (or withdraw your own); see ``commands.approve``."""

from __future__ import annotations

from commands.approve import _spec
from core.i18n import N_

SPEC = _spec("deny", N_("deny a restore request, or withdraw your own"))
