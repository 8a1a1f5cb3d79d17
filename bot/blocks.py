"""Block Kit built with slack_sdk's block models, every value cut to Slack's limits as it is built.

Slack refuses a whole message (``invalid_blocks``) when one text is a character too long,
and a refused message leaves the channel without news of a job that ran. slack_sdk's
models know the limits and raise ``SlackObjectFormationError`` on ``to_dict()`` when one
is broken, so every helper here cuts its values first: a model built here always
serializes, and what Slack receives is what the models checked.

Long outputs (a list of backups, steps, databases, what a restore replaces or keeps) are
cut by whole lines with a last "…and N more" line, so a reader knows something was left
out and how much; a single overlong line is cut with "…". Texts pass through ``redact``
before they are cut (redaction only shortens), so nothing here may carry a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from core.i18n import ngettext
from core.redact import redact
from core.slack_text import (
    ACTION_ELEMENTS,
    BLOCK_ID,
    BLOCKS,
    BUTTON_TEXT,
    BUTTON_VALUE,
    CONFIRM_BUTTON,
    CONFIRM_TEXT,
    CONFIRM_TITLE,
    CONTEXT_ELEMENTS,
    CONTEXT_TEXT,
    FIELD_TEXT,
    FIELDS,
    HEADER_TEXT,
    SECTION_TEXT,
    cut,
    fit_blocks,
)

# A line is never cut shorter than this to make room for others; below it, whole lines go instead.
MIN_LINE = 80
# Cutting the longest lines is for a card with a few long values; a list whose lines are all
# about as long keeps its first lines whole instead.
LONG_LINES_CUT = 3
FENCE = "```"

More = Callable[[int], str]


def more_lines(n: int) -> str:
    """The last line of a list cut short: how many lines are not shown."""
    return ngettext("…and {n} more line", "…and {n} more lines", n).format(n=n)


def fit(text: str, limit: int) -> str:
    """``text`` redacted and cut to ``limit`` characters; never empty (Slack refuses an empty text)."""
    return cut(redact(text), limit) or " "


def _close_fence(text: str) -> str:
    return text + "\n" + FENCE if text.count(FENCE) % 2 else text


def fit_lines(lines: Sequence[str], limit: int, more: More = more_lines) -> str:
    """The lines joined within ``limit``: a few overlong lines cut, or whole lines dropped for "…and N more".

    Cutting the few longest lines keeps every fact of a short card (the restore request's
    twelve lines, one of them a 5,000-character list of objects); a list of hundreds of
    lines keeps its first lines whole and says how many more there are.
    """
    lines = [line for text in lines for line in redact(str(text)).split("\n")]
    room = limit - len(FENCE) - 1  # a cut inside a code block is closed again
    if sum(len(line) for line in lines) + len(lines) - 1 <= room:
        return _close_fence("\n".join(lines)) or " "
    cap = _cap(lines, room)
    if cap >= MIN_LINE and sum(1 for line in lines if len(line) > cap) <= LONG_LINES_CUT:
        return _close_fence("\n".join(cut(line, cap) for line in lines)) or " "
    # Too many lines to keep them all: whole lines while they fit, then how many were left out.
    reserve = len(more(len(lines))) + 1
    kept: list[str] = []
    used = 0
    for line in lines:
        piece = cut(line, max(MIN_LINE, room // 4))
        if used + len(piece) + 1 > room - reserve:
            break
        kept.append(piece)
        used += len(piece) + 1
    if not kept:  # not even one line fits beside the note: the first, cut
        kept, used = [cut(lines[0], room - reserve - 1)], 0
    text = _close_fence("\n".join(kept))
    return text + "\n" + more(len(lines) - len(kept))


def _cap(lines: Sequence[str], room: int) -> int:
    """The longest a line may be so that all of them fit in ``room`` (0 when none would)."""
    budget = room - (len(lines) - 1)
    lo, hi = 0, max(len(line) for line in lines)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(len(line), mid) for line in lines) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit_lines([text], limit))


def plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=fit(text, limit))


def section(
    text: str | Sequence[str], accessory: Any = None, block_id: str | None = None, more: More = more_lines
) -> SectionBlock:
    """A section of mrkdwn (one text, or lines cut as a list)."""
    lines = [text] if isinstance(text, str) else list(text)
    return SectionBlock(
        text=MarkdownTextObject(text=fit_lines(lines or [" "], SECTION_TEXT, more)),
        accessory=accessory,
        block_id=block_id[:BLOCK_ID] if block_id else None,
    )


def fields_section(fields: Sequence[str]) -> list[Block]:
    """Up to ten side-by-side fields, each cut by lines; the ones past ten are counted in a context line."""
    if not fields:
        return []
    shown = [MarkdownTextObject(text=fit_lines([f], FIELD_TEXT)) for f in fields[:FIELDS]]
    blocks: list[Block] = [SectionBlock(fields=shown)]
    if len(fields) > FIELDS:
        left = len(fields) - FIELDS
        blocks.append(context(ngettext("…and {n} more field", "…and {n} more fields", left).format(n=left)))
    return blocks


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(t, CONTEXT_TEXT) for t in texts[:CONTEXT_ELEMENTS]])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=plain(text, HEADER_TEXT))


def divider() -> DividerBlock:
    return DividerBlock()


def confirm(title: str, text: str, go: str, back: str) -> ConfirmObject:
    return ConfirmObject(
        title=plain(title, CONFIRM_TITLE),
        text=MarkdownTextObject(text=fit(text, CONFIRM_TEXT)),
        confirm=plain(go, CONFIRM_BUTTON),
        deny=plain(back, CONFIRM_BUTTON),
    )


def button(
    action_id: str, label: str, value: str, style: str | None = None, confirm: ConfirmObject | None = None
) -> ButtonElement:
    if len(value) > BUTTON_VALUE:  # a value is read back by code: never cut, refuse to build
        raise ValueError(f"a button value of {len(value)} characters is more than Slack takes")
    return ButtonElement(
        action_id=action_id, text=plain(label, BUTTON_TEXT), value=value, style=style, confirm=confirm
    )


def actions(buttons: Sequence[ButtonElement], block_id: str | None = None) -> ActionsBlock:
    return ActionsBlock(
        elements=list(buttons[:ACTION_ELEMENTS]), block_id=block_id[:BLOCK_ID] if block_id else None
    )


def to_dicts(blocks: Sequence[Block], limit: int = BLOCKS) -> list[dict[str, Any]]:
    """The models as Slack's JSON (each validated by slack_sdk), at most ``limit`` blocks."""
    return fit_blocks([b.to_dict() for b in blocks], limit)
