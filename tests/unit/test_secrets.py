"""Run-time secrets: one Secrets Manager JSON secret when BILLOW_SECRETS_ARN is set, cached; env otherwise."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from functions.core import secrets


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.delenv("BILLOW_SECRETS_ARN", raising=False)
    secrets.reset_secrets_cache()
    yield
    secrets.reset_secrets_cache()


@pytest.fixture
def stored_secret(monkeypatch):
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        values = {
            "stripe_secret_key": "sk_test_1",
            "stripe_publishable_key": "pk_test_1",
            "stripe_webhook_secret": "whsec_1",
            "cursor_secret": "generated",
        }
        arn = client.create_secret(Name="billow-test/app", SecretString=json.dumps(values))["ARN"]
        monkeypatch.setenv("BILLOW_SECRETS_ARN", arn)
        yield client, arn


def test_values_come_from_the_secret_and_are_cached(stored_secret):
    client, arn = stored_secret
    assert secrets.get_secret(secrets.STRIPE_SECRET_KEY) == "sk_test_1"
    assert secrets.get_secret(secrets.CURSOR_SECRET) == "generated"
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"stripe_secret_key": "sk_test_2"}))
    assert secrets.get_secret(secrets.STRIPE_SECRET_KEY) == "sk_test_1", "served from the cache"
    secrets.reset_secrets_cache()
    assert secrets.get_secret(secrets.STRIPE_SECRET_KEY) == "sk_test_2"


def test_the_cache_expires(stored_secret, monkeypatch):
    client, arn = stored_secret
    monkeypatch.setenv("BILLOW_SECRETS_CACHE_SECONDS", "0")
    assert secrets.get_secret(secrets.STRIPE_WEBHOOK_SECRET) == "whsec_1"
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"stripe_webhook_secret": "whsec_2"}))
    assert secrets.get_secret(secrets.STRIPE_WEBHOOK_SECRET) == "whsec_2"


def test_an_empty_field_is_an_error_not_an_empty_key(stored_secret):
    client, arn = stored_secret
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"stripe_secret_key": ""}))
    with pytest.raises(RuntimeError, match="stripe_secret_key"):
        secrets.get_secret(secrets.STRIPE_SECRET_KEY)


def test_without_a_secret_the_environment_is_used(monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_env")
    assert secrets.get_secret(secrets.STRIPE_SECRET_KEY) == "sk_test_env"
    assert secrets.get_secret(secrets.CURSOR_SECRET) == "test-cursor-secret"  # settings (tests/conftest.py)
    with pytest.raises(KeyError):
        secrets.get_secret("aws_root_password")
