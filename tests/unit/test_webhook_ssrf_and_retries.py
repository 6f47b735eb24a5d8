"""SSRF rules on addresses (DESIGN §7), with an injected resolver (no real DNS), and the retry schedule."""

from __future__ import annotations

import pytest

from functions.events import ssrf


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",  # noqa: S104
     "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1",
     "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "ff02::1",
     "2001:db8::1", "fe80::1%eth0", "not-an-ip"],
)  # fmt: skip
def test_non_public_addresses_are_refused(address):
    assert not ssrf.is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_accepted(address):
    assert ssrf.is_public(address)


def test_the_check_uses_the_dns_answers_not_the_url_text():
    answers = {"innocent.example.com": ["169.254.169.254"], "ok.example.com": ["93.184.216.34"]}

    def resolve(host, port):
        return answers.get(host, [])

    with pytest.raises(ssrf.UnsafeUrl) as refused:
        ssrf.check("https://innocent.example.com/x", allow_local=False, resolve=resolve)
    assert refused.value.code == "webhook-url-private-address"
    target = ssrf.check("https://ok.example.com:8443/a/b?c=1", allow_local=False, resolve=resolve)
    assert (target.host, target.port, target.path, target.address) == ("ok.example.com", 8443, "/a/b?c=1",
                                                                       "93.184.216.34")  # fmt: skip


def test_only_the_local_stage_accepts_http_to_127_0_0_1_and_nothing_else_local():
    def resolve(host, port):
        raise AssertionError("no lookup for a literal address")

    assert ssrf.check("http://127.0.0.1:8422/hooks", allow_local=True, resolve=resolve).address == "127.0.0.1"
    for url, code in [
        ("http://127.0.0.1:8422/hooks", "webhook-url-not-https"),
        ("http://10.0.0.1/hooks", "webhook-url-not-https"),
    ]:
        with pytest.raises(ssrf.UnsafeUrl) as refused:
            ssrf.check(url, allow_local=False, resolve=resolve)
        assert refused.value.code == code
    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.check("http://10.0.0.1/hooks", allow_local=True, resolve=resolve)


def test_retries_start_within_a_minute_and_last_about_three_days(monkeypatch):
    from functions.core.settings import reset_settings
    from functions.events.deliverer import retry_delays

    for name in ("BASE", "CAP", "WINDOW"):
        monkeypatch.delenv(f"BILLOW_WEBHOOK_RETRY_{name}_SECONDS", raising=False)
    reset_settings()
    try:
        delays = retry_delays()
        assert delays[0] * 1.2 <= 60  # jitter is ±20 %
        assert sum(delays) == 3 * 86400
        assert max(delays) <= 12 * 3600 and delays == sorted(delays[:-1]) + delays[-1:]
        assert 8 <= len(delays) <= 16
    finally:
        reset_settings()
