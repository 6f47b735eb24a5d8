"""Invoice artefacts in S3: each invoice's PDF with the fingerprint of the state it shows (S3 metadata
`fingerprint`: the `pdf-render` worker re-renders a stale one), read through short-lived presigned URLs;
and the markers of renders asked for (`renders/<account>/<invoice>/<fingerprint>`, empty objects whose
metadata says when: the PDF route queues one render per invoice and fingerprint, not one per poll; the
bucket's lifecycle rule expires them after a day, infra/data.py).

Invoice records, lines and the ledger belong to core (they move money and commit in core's unit of
work); this domain reads them through core and owns only the rendered documents."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from functions.core.resources import bucket_name
from functions.core.settings import get_settings


@lru_cache(maxsize=1)
def _s3() -> Any:
    import boto3  # the AWS SDK's resource clients load on first use: most requests never touch S3

    # SigV4 with path-style addressing works against S3 and against moto's server on loopback alike.
    return boto3.client(
        "s3",
        region_name=get_settings().region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def reset_client() -> None:
    _s3.cache_clear()


def _key(account_id: str, invoice_id: str) -> str:
    return f"invoices/{account_id}/{invoice_id}.pdf"


RENDERS_PREFIX = "renders/"


def _marker_key(account_id: str, invoice_id: str, fingerprint: str) -> str:
    return f"{RENDERS_PREFIX}{account_id}/{invoice_id}/{fingerprint}"


def _metadata(key: str) -> dict[str, str] | None:
    """The object's metadata; None when there is no such object."""
    try:
        head = _s3().head_object(Bucket=bucket_name(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return dict(head.get("Metadata", {}))


def pdf_fingerprint(account_id: str, invoice_id: str) -> str | None:
    """The stored PDF's fingerprint ("" for a PDF stored before fingerprints); None: no PDF stored."""
    metadata = _metadata(_key(account_id, invoice_id))
    return None if metadata is None else str(metadata.get("fingerprint", ""))


def render_requested_at(account_id: str, invoice_id: str, fingerprint: str) -> datetime | None:
    """When a render of this invoice at this fingerprint was last queued by the PDF route (None: never)."""
    metadata = _metadata(_marker_key(account_id, invoice_id, fingerprint))
    raw = (metadata or {}).get("requested_at")
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None


def mark_render_requested(account_id: str, invoice_id: str, fingerprint: str, at: str) -> None:
    _s3().put_object(
        Bucket=bucket_name(),
        Key=_marker_key(account_id, invoice_id, fingerprint),
        Body=b"",
        Metadata={"requested_at": at},
        ServerSideEncryption="AES256",
    )


def put_pdf(account_id: str, invoice_id: str, pdf: bytes, filename: str, fingerprint: str) -> None:
    """The PDF under its one key, with a stable file name (`<number>.pdf`) whatever its version."""
    _s3().put_object(
        Bucket=bucket_name(),
        Key=_key(account_id, invoice_id),
        Body=pdf,
        ContentType="application/pdf",
        ContentDisposition=f'attachment; filename="{filename}"',
        Metadata={"fingerprint": fingerprint},
        ServerSideEncryption="AES256",
    )


def pdf_url(account_id: str, invoice_id: str, seconds: int, filename: str) -> str:
    """A presigned GET whose answer says `attachment` (DESIGN §8: the console's browser downloads it), also
    for PDFs stored before their own Content-Disposition said so."""
    params = {
        "Bucket": bucket_name(),
        "Key": _key(account_id, invoice_id),
        "ResponseContentDisposition": f'attachment; filename="{filename}"',
    }
    return str(_s3().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds))
