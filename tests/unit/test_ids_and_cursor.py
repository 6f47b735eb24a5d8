import pytest

from functions.core import clock, cursor
from functions.core.errors import BadRequestError
from functions.core.ids import derived_id, is_id, new_id


def test_new_ids_are_prefixed_and_unique():
    ids = {new_id("acct") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_id(i, "acct") for i in ids)


def test_derived_ids_are_stable_per_seed_and_differ_across_seeds():
    assert derived_id("inv", "a", "b") == derived_id("inv", "a", "b")
    assert derived_id("inv", "a", "b") != derived_id("inv", "ab")
    assert is_id(derived_id("pay", "x"), "pay")


def test_is_id_checks_prefix_and_shape():
    assert not is_id(new_id("dev"), "acct")
    assert not is_id("acct_short", "acct")
    assert not is_id(None, "acct")


KEY = {"pk": {"S": "acct_x"}, "sk": {"S": "DEVICE#dev_1"}}


def test_a_cursor_round_trips_for_the_same_account_route_and_filters():
    token = cursor.encode("acct_a", "devices", {"view": "all"}, KEY)
    assert cursor.decode(token, "acct_a", "devices", {"view": "all"}) == KEY


def test_no_last_key_means_no_cursor():
    assert cursor.encode("acct_a", "devices", {}, None) is None


@pytest.mark.parametrize(
    ("account", "route", "filters"),
    [("acct_b", "devices", {}), ("acct_a", "events", {}), ("acct_a", "devices", {"view": "all"})],
)
def test_a_cursor_is_refused_for_another_account_route_or_filters(account, route, filters):
    token = cursor.encode("acct_a", "devices", {}, KEY)
    with pytest.raises(BadRequestError) as exc:
        cursor.decode(token, account, route, filters)
    assert exc.value.code == "invalid-cursor"


def test_a_forged_cursor_is_refused():
    token = cursor.encode("acct_a", "devices", {}, KEY)
    body, sig = token.split(".")
    forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + sig
    for bad in (forged, "garbage", "x.y", token + "x"):
        with pytest.raises(BadRequestError):
            cursor.decode(bad, "acct_a", "devices", {})


@pytest.mark.parametrize("tail", ["\u00e9", "\U0001f4b8", "\u0085", "\udc00"])
def test_a_cursor_with_non_ascii_text_is_invalid_cursor_not_a_type_error(tail):
    """Issue 14 hole 5: `?cursor=YWJj.%C3%A9` reached hmac.compare_digest with a non-ASCII str (a 500)."""
    token = cursor.encode("acct_a", "devices", {}, KEY)
    body, sig = token.split(".")
    for bad in ("YWJj." + tail, f"{body}.{sig[:-1]}{tail}", f"{body}.{tail}{sig}", f"{tail}.{sig}"):
        with pytest.raises(BadRequestError) as exc:
            cursor.decode(bad, "acct_a", "devices", {})
        assert exc.value.code == "invalid-cursor"


def test_an_expired_cursor_is_refused():
    from datetime import timedelta

    token = cursor.encode("acct_a", "devices", {}, KEY)
    with clock.frozen(clock.now() + timedelta(days=2)), pytest.raises(BadRequestError):
        cursor.decode(token, "acct_a", "devices", {})
