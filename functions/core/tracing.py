"""X-Ray tracing (Powertools Tracer over the X-Ray SDK), started on the first invocation, not at import.

Every deployed function has X-Ray active tracing (infra/lambdas.py): Lambda records each invocation's
segment whether or not the SDK is loaded. The SDK adds subsegments for billow's calls (botocore:
DynamoDB, SQS, SES, S3; requests: Stripe). It is loaded by the first invocation of a process that
runs with tracing on (the `BILLOW_TRACING` setting, set by infra/), never at import and never locally:
its import cost (`make bench`, "X-Ray SDK import") is paid once per process, on its first request.
"""

from __future__ import annotations

from functools import lru_cache

from functions.core.settings import get_settings


@lru_cache(maxsize=1)
def start() -> bool:
    """Load the X-Ray SDK and patch botocore and requests, once per process; False when tracing is off."""
    if not get_settings().tracing:
        return False
    from aws_lambda_powertools import Tracer

    Tracer(service="billow", patch_modules=("botocore", "requests"))
    return True
