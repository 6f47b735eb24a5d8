"""E-mail: one renderer (`compose`) and the gateway (`send`: SES v2 `SendEmail` with a text and an HTML
part, from the configured sender).

What a message says belongs to the domain that sends it (payments/emails.py, payments/collection_emails.py);
how it is laid out is here, once: `compose` turns a subject, paragraphs, optional label/value rows and
a footer into the text part and the HTML part, escaping everything that goes into the HTML. Amounts
come formatted by functions/core/money.py `display`.

The boto3 client is created on first use (tests start moto first; routes that never send mail do not
pay for it). Never log a recipient or a body: callers log ids.

Every message goes through `send`, and `send` puts the Subject (and the recipient) on one line
(functions/core/text.py `single_line`): a subject built from what a customer typed ("Help\r\nBcc: …")
can never add an e-mail header, whichever domain built it.

Every message carries the correlation id of the work that sent it (functions/core/logs.py) in its
`X-Billow-Correlation-Id` header, names the stage's SES configuration set when there is one (bounces
and complaints come back through it, infra/mail.py), and counts in the `EmailsSent` / `EmailsFailed`
metrics (functions/core/metrics.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from functions.core import metrics, suppressions
from functions.core.logs import correlation_id
from functions.core.resources import email_sender
from functions.core.settings import get_settings
from functions.core.text import single_line


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


def compose(
    to: str,
    subject: str,
    lang: str,
    paragraphs: Sequence[str],
    *,
    rows: Sequence[tuple[str, str]] = (),
    footer: Sequence[str] = (),
) -> Email:
    """One e-mail from its parts. The text part: the first paragraph with the `rows` under it, one
    "label: value" a line, then the other paragraphs and the footer, separated by blank lines, ending
    with a newline. The HTML part: the same in `<p>`s (line breaks kept as `<br>`), the rows as a table,
    the footer in small grey type; every string escaped, so nothing a customer typed becomes markup."""
    first, *rest = paragraphs
    lead = "\n".join([first, *(f"{label}: {value}" for label, value in rows)])
    text = "\n\n".join([lead, *rest, *footer]) + "\n"
    html = [
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8"><title>{escape(subject)}</title>'
        '</head><body style="font-family:sans-serif">',
        _paragraph(first),
    ]
    if rows:
        cells = "".join(f'<tr><th align="left">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in rows)
        html.append(f"<table>{cells}</table>")
    html += [_paragraph(p) for p in rest]
    html += [_paragraph(p, ' style="color:#666;font-size:smaller"') for p in footer]
    html.append("</body></html>")
    return Email(to=to, subject=subject, text=text, html="".join(html))


def _paragraph(text: str, style: str = "") -> str:
    return f"<p{style}>{escape(text).replace(chr(10), '<br>')}</p>"


@lru_cache(maxsize=1)
def _ses() -> Any:
    import boto3

    return boto3.client("sesv2", region_name=get_settings().region)


def reset_client() -> None:
    """Forget the client (tests start a fresh moto per test)."""
    _ses.cache_clear()


CORRELATION_HEADER = "X-Billow-Correlation-Id"


def send(message: Email) -> str:
    """Send one e-mail; returns SES's message id ("" when the address is suppressed: SES reported a hard
    bounce or a complaint for it, functions/core/suppressions.py). Raises botocore's errors: the caller
    decides to retry."""
    if suppressions.is_suppressed(message.to):
        metrics.count("EmailsSuppressed")
        return ""
    simple: dict[str, Any] = {
        "Subject": {"Data": single_line(message.subject), "Charset": "UTF-8"},
        "Body": {
            "Text": {"Data": message.text, "Charset": "UTF-8"},
            "Html": {"Data": message.html, "Charset": "UTF-8"},
        },
    }
    if correlation := correlation_id():
        simple["Headers"] = [{"Name": CORRELATION_HEADER, "Value": correlation}]
    configuration_set = get_settings().ses_configuration_set
    extra = {"ConfigurationSetName": configuration_set} if configuration_set else {}
    try:
        response = _ses().send_email(
            FromEmailAddress=email_sender(),
            Destination={"ToAddresses": [single_line(message.to)]},
            Content={"Simple": simple},
            **extra,
        )
    except Exception:
        metrics.count("EmailsFailed")
        raise
    metrics.count("EmailsSent")
    return str(response["MessageId"])
