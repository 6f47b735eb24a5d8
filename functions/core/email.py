"""The e-mail gateway: SES v2 `SendEmail` with a text and an HTML part, from the configured sender.

The boto3 client is created on first use (tests start moto first; routes that never send mail do not
pay for it). What a message says belongs to the domain that sends it; this module only delivers.
Never log a recipient or a body: callers log ids.

Every message goes through `send`, and `send` puts the Subject (and the recipient) on one line
(functions/core/text.py `single_line`): a subject built from what a customer typed ("Help\r\nBcc: …")
can never add an e-mail header, whichever domain built it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from functions.core.resources import email_sender
from functions.core.settings import get_settings
from functions.core.text import single_line


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _ses() -> Any:
    import boto3

    return boto3.client("sesv2", region_name=get_settings().region)


def reset_client() -> None:
    """Forget the client (tests start a fresh moto per test)."""
    _ses.cache_clear()


def send(message: Email) -> str:
    """Send one e-mail; returns SES's message id. Raises botocore's errors: the caller decides to retry."""
    response = _ses().send_email(
        FromEmailAddress=email_sender(),
        Destination={"ToAddresses": [single_line(message.to)]},
        Content={
            "Simple": {
                "Subject": {"Data": single_line(message.subject), "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": message.text, "Charset": "UTF-8"},
                    "Html": {"Data": message.html, "Charset": "UTF-8"},
                },
            }
        },
    )
    return str(response["MessageId"])
