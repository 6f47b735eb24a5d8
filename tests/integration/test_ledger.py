"""The ledger's posting and application rules, its conditions, and its invariant under random operations."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from functions.core import audit as audit_events
from functions.core import ledger, ledger_store
from functions.core.audit import Actor
from functions.core.errors import ConcurrentUpdateError
from functions.core.ledger import AlreadyPostedError, Line
from functions.core.uow import UnitOfWork
from tests.integration import ledger_commit
from tests.integration.conftest import recreate_tables

_ids = itertools.count(1)


def _account(currency: str = "usd") -> str:
    account_id = f"acct_test{next(_ids):016d}"
    UnitOfWork().add(ledger.open_balance(account_id, currency, next(_ids))).commit()
    return account_id


def _charge(account_id: str, amount: int, lines: int = 1) -> ledger.Invoice:
    day = date(2026, 11, 1)
    per_line = [Line(f"line {n}", amount // lines + (1 if n < amount % lines else 0), day, day) for n in range(lines)]
    return ledger_commit.post_invoice(
        account_id, invoice_id=f"inv_{next(_ids):020d}", type="one_time", lines=per_line, description="charge"
    )


def _credit(account_id: str, amount: int, target: str | None = None) -> ledger.Invoice:
    day = date(2026, 11, 1)
    return ledger_commit.post_invoice(
        account_id,
        invoice_id=f"inv_{next(_ids):020d}",
        type="credit",
        lines=[Line("credit", amount, day, day)],
        description="credit",
        target_invoice_id=target,
    )


def _assert_invariant(account_id: str) -> ledger.AuditResult:
    result = ledger.audit_account(account_id)
    assert result.problems == [], result
    return result


def test_money_in_settles_open_invoices_oldest_first(aws):
    account_id = _account()
    first, second, third = _charge(account_id, 100), _charge(account_id, 200), _charge(account_id, 300)
    result = ledger_commit.apply_payment(account_id, payment_id="pay_1", amount=250)
    assert result.applied == [(first.id, 100), (second.id, 150)]
    assert result.unapplied == 0 and result.balance_after == 350
    assert ledger.get_invoice(account_id, first.id).status == "closed"
    assert ledger.get_invoice(account_id, second.id).balance_due == 50
    assert ledger.get_invoice(account_id, third.id).balance_due == 300
    _assert_invariant(account_id)


def test_money_in_settles_the_targeted_invoice_first(aws):
    account_id = _account()
    first, second = _charge(account_id, 100), _charge(account_id, 200)
    result = ledger_commit.apply_payment(account_id, payment_id="pay_1", amount=250, target_invoice_id=second.id)
    assert result.applied == [(second.id, 200), (first.id, 50)]
    _assert_invariant(account_id)


def test_what_is_left_becomes_unapplied_credit_and_the_next_debit_consumes_it(aws):
    account_id = _account()
    _charge(account_id, 100)
    result = ledger_commit.apply_payment(account_id, payment_id="pay_1", amount=400)
    assert result.unapplied == 300
    assert ledger.get_balance(account_id).current == -300
    inv = _charge(account_id, 120)
    assert (inv.status, inv.balance_due, inv.amount_paid) == ("closed", 0, 120)
    balance = ledger.get_balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (-180, 180)
    _assert_invariant(account_id)


def test_a_payment_is_applied_once_whatever_the_number_of_calls(aws):
    account_id = _account()
    _charge(account_id, 1000)
    ledger_commit.apply_payment(account_id, payment_id="pay_dup", amount=600)
    with pytest.raises(AlreadyPostedError):
        ledger_commit.apply_payment(account_id, payment_id="pay_dup", amount=600)
    assert ledger.get_balance(account_id).current == 400
    assert len(ledger_store.entries(account_id)) == 2
    _assert_invariant(account_id)


def test_an_invoice_id_is_posted_once(aws):
    account_id = _account()
    day = date(2026, 11, 1)
    kwargs = {"invoice_id": "inv_same", "type": "one_time", "lines": [Line("x", 100, day, day)], "description": "x"}
    ledger_commit.post_invoice(account_id, **kwargs)
    with pytest.raises(AlreadyPostedError):
        ledger_commit.post_invoice(account_id, **kwargs)
    assert ledger.get_balance(account_id).current == 100
    assert ledger.get_balance(account_id).invoice_seq == 1


def test_invoice_numbers_are_gapless_per_account(aws):
    a, b = _account(), _account()
    numbers_a = [_charge(a, 100).number for _ in range(3)]
    numbers_b = [_charge(b, 100).number for _ in range(2)]
    account_number_a = numbers_a[0].split("-")[0]
    assert numbers_a == [f"{account_number_a}-{n:06d}" for n in (1, 2, 3)]
    assert [n.split("-")[1] for n in numbers_b] == ["000001", "000002"]


def test_settling_more_invoices_than_one_transaction_holds_continues_in_the_next(aws):
    account_id = _account()
    count = ledger.MAX_SETTLE_PER_TRANSACTION * 2 + 5
    invoices = [_charge(account_id, 10) for _ in range(count)]
    credit = _credit(account_id, 10 * count + 7)
    assert len(credit.applied_to) == ledger.MAX_SETTLE_PER_TRANSACTION + 1  # the first step, the rest unapplied
    assert all(ledger.get_invoice(account_id, i.id).status == "closed" for i in invoices)
    balance = ledger.get_balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (-7, 7)
    _assert_invariant(account_id)


def test_an_invoice_with_thousands_of_lines_is_posted_with_its_lines_written_ahead(aws):
    account_id = _account()
    inv = _charge(account_id, 250_000, lines=1200)
    lines = ledger.get_lines(account_id, inv.id)
    assert len(lines) == 1200 and sum(line.amount for line in lines) == 250_000 == inv.total
    _assert_invariant(account_id)


def test_a_stale_writer_is_rejected_by_the_balance_condition(aws):
    account_id = _account()
    stale = ledger.get_balance(account_id)
    _charge(account_id, 100)  # the other writer wins
    from dataclasses import replace

    loser = UnitOfWork().add(ledger_store.update_balance(stale, replace(stale, current=999, entry_seq=1)))
    with pytest.raises(ConcurrentUpdateError):
        loser.commit()
    assert ledger.get_balance(account_id).current == 100
    _assert_invariant(account_id)


def test_a_writer_that_loses_a_race_rereads_and_posts_on_top(aws, monkeypatch):
    account_id = _account()
    real_read = ledger_store.get_balance
    raced = []

    def read_then_race(acct, consistent=True):
        balance = real_read(acct, consistent=consistent)
        if not raced:
            raced.append(1)
            _charge(account_id, 70)  # lands between our read and our commit
        return balance

    monkeypatch.setattr(ledger_store, "get_balance", read_then_race)
    inv = _charge(account_id, 30)
    monkeypatch.undo()
    assert ledger.get_balance(account_id).current == 100
    assert inv.number.endswith("000002")
    _assert_invariant(account_id)


def test_a_crash_between_building_and_committing_leaves_nothing(aws, monkeypatch):
    account_id = _account()
    _charge(account_id, 100)
    before = (ledger.get_balance(account_id), ledger_store.entries(account_id))

    def crash(self):
        raise RuntimeError("lambda died before commit")

    monkeypatch.setattr(UnitOfWork, "commit", crash)
    with pytest.raises(RuntimeError):
        _charge(account_id, 500)
    with pytest.raises(RuntimeError):
        ledger_commit.apply_payment(account_id, payment_id="pay_x", amount=50)
    monkeypatch.undo()
    assert (ledger.get_balance(account_id), ledger_store.entries(account_id)) == before
    assert not ledger_store.ref_exists(account_id, "pay_x")
    _assert_invariant(account_id)


def test_a_transaction_that_fails_on_any_item_writes_none_of_them(aws):
    account_id = _account()
    stale = ledger.get_balance(account_id)
    _charge(account_id, 100)
    event = audit_events.record(account_id, Actor("t", "system"), "test", account_id)
    from dataclasses import replace

    with pytest.raises(ConcurrentUpdateError):
        UnitOfWork().add(event, ledger_store.update_balance(stale, replace(stale, current=1))).commit()
    assert audit_events.list_events(account_id, 10, None, "events")[0] == []


class LedgerMachine(RuleBasedStateMachine):
    """Random charges, credits and payments on three accounts; the invariant holds after every step."""

    def __init__(self):
        super().__init__()
        self.accounts = [_account() for _ in range(3)]
        self.expected = dict.fromkeys(self.accounts, 0)
        self.payments = []
        self.refunded = {}  # payment id -> refunded at Stripe
        self.touched = set(self.accounts)

    @rule(who=st.integers(0, 2), amount=st.integers(1, 50_000))
    def charge(self, who, amount):
        _charge(self.accounts[who], amount)
        self.expected[self.accounts[who]] += amount
        self.touched.add(self.accounts[who])

    @rule(who=st.integers(0, 2), amount=st.integers(1, 50_000), targeted=st.booleans())
    def credit(self, who, amount, targeted):
        account_id = self.accounts[who]
        target = ledger_store.open_invoice_ids(account_id, 1) if targeted else []
        _credit(account_id, amount, target[0] if target else None)
        self.expected[account_id] -= amount
        self.touched.add(account_id)

    @rule(who=st.integers(0, 2), amount=st.integers(1, 50_000))
    def pay(self, who, amount):
        account_id = self.accounts[who]
        payment_id = f"pay_{next(_ids)}"
        ledger_commit.apply_payment(account_id, payment_id=payment_id, amount=amount)
        self.payments.append((account_id, payment_id, amount))
        self.expected[account_id] -= amount
        self.touched.add(account_id)

    @precondition(lambda self: any(amount > self.refunded.get(pay, 0) for _, pay, amount in self.payments))
    @rule(pick=st.integers(0, 10_000), fraction=st.floats(0.01, 1.0), again=st.booleans())
    def refund_at_stripe(self, pick, fraction, again):
        """A refund made in Stripe's Dashboard: money back placed wherever the payment's money went
        (issue 14 hole 9); it never fails, and a second delivery changes nothing."""
        refundable = [(a, pay, amount) for a, pay, amount in self.payments if amount > self.refunded.get(pay, 0)]
        account_id, payment_id, amount = refundable[pick % len(refundable)]
        back = max(1, int((amount - self.refunded.get(payment_id, 0)) * fraction))
        refund_id = f"re_{next(_ids)}"
        ledger_commit.money_back(account_id, refund_id=refund_id, amount=back, payment_id=payment_id)
        if again:
            with pytest.raises(AlreadyPostedError):
                ledger_commit.money_back(account_id, refund_id=refund_id, amount=back, payment_id=payment_id)
        self.refunded[payment_id] = self.refunded.get(payment_id, 0) + back
        self.expected[account_id] += back
        self.touched.add(account_id)

    @precondition(lambda self: self.payments)
    @rule(pick=st.integers(0, 10_000))
    def duplicate_payment(self, pick):
        account_id, payment_id, amount = self.payments[pick % len(self.payments)]
        with pytest.raises(AlreadyPostedError):
            ledger_commit.apply_payment(account_id, payment_id=payment_id, amount=amount)
        self.touched.add(account_id)

    def teardown(self):
        recreate_tables()  # fresh tables for every example

    @invariant()
    def ledger_invariant_holds(self):
        # Checked after every step on the accounts the step touched (the others did not change).
        for account_id in sorted(self.touched):
            result = _assert_invariant(account_id)
            assert result.balance_current == self.expected[account_id]
        self.touched.clear()


def test_ledger_invariant_under_random_operations(aws):
    # 12 examples x 25 steps = 300 steps in `make test` (about 15 s here): the simulation across the
    # domains (tests/proof/test_simulation.py) checks the same invariant after each of its 1,000 steps.
    # `make soak` sets BILLOW_LEDGER_EXAMPLES=400: 10,000 steps.
    import os

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=int(os.environ.get("BILLOW_LEDGER_EXAMPLES", "12")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


def test_the_worked_example_of_docs_ledger_md(aws):
    account_id = _account()
    a = _charge(account_id, 1250)
    b = _charge(account_id, 800)
    paid = ledger_commit.apply_payment(account_id, payment_id="pay_doc", amount=1500, target_invoice_id=b.id)
    assert paid.applied == [(b.id, 800), (a.id, 700)] and paid.balance_after == 550
    credit = _credit(account_id, 1000)
    assert credit.applied_to == [{"invoice_id": a.id, "amount": 550}, {"invoice_id": None, "amount": 450}]
    c = _charge(account_id, 300)
    assert (c.status, c.amount_paid) == ("closed", 300)
    balance = ledger.get_balance(account_id)
    assert (balance.current, balance.unapplied_credit) == (-150, 150)
    assert [e.amount for e in ledger_store.entries(account_id)] == [1250, 800, -1500, -1000, 300]
    _assert_invariant(account_id)


def _pay(account_id: str, amount: int) -> str:
    payment_id = f"pay_{next(_ids)}"
    ledger_commit.apply_payment(account_id, payment_id=payment_id, amount=amount)
    return payment_id


def test_money_back_reopens_what_the_payment_paid_through_its_credit_and_nothing_another_payment_paid(aws):
    # issue 14 hole 9: P's credit paid B and part of D later; Q and R paid the rest of D and E
    account_id = _account()
    a = _charge(account_id, 1000)
    p = _pay(account_id, 3000)  # A, then 2,000 of unapplied credit
    b = _charge(account_id, 1500)  # paid by P's credit
    d = _charge(account_id, 700)  # 500 of P's credit, then 200 by Q
    _pay(account_id, 200)
    e = _charge(account_id, 400)
    _pay(account_id, 400)
    assert ledger.get_balance(account_id).current == 0

    result = ledger_commit.money_back(account_id, refund_id="re_p_all", amount=3000, payment_id=p)

    assert result.reopened == [(d.id, 500), (b.id, 1500), (a.id, 1000)]  # newest first
    assert result.invoice_id is None
    assert [x.origin for x in ledger.get_invoice(account_id, b.id).applications] == [p, "re_p_all"]
    owed = {i: ledger.get_invoice(account_id, i) for i in (a.id, b.id, d.id, e.id)}
    assert [(owed[i].status, owed[i].balance_due) for i in (a.id, b.id, d.id, e.id)] == [
        ("open", 1000),
        ("open", 1500),
        ("open", 500),  # Q's 200 stays on it
        ("closed", 0),  # R paid it: untouched
    ]
    assert ledger.get_balance(account_id).current == 3000
    _assert_invariant(account_id)
    with pytest.raises(AlreadyPostedError):
        ledger_commit.money_back(account_id, refund_id="re_p_all", amount=3000, payment_id=p)
    assert ledger.get_balance(account_id).current == 3000


def test_money_back_uses_unapplied_credit_first_the_payments_own_before_the_rest(aws):
    account_id = _account()
    credit = _credit(account_id, 500)
    p = _pay(account_id, 800)
    assert ledger.get_balance(account_id).credit_lots == ((credit.id, 500), (p, 800))

    result = ledger_commit.money_back(account_id, refund_id="re_p_part", amount=1000, payment_id=p)

    assert (result.credit_used, result.reopened, result.invoice_id) == (1000, [], None)
    balance = ledger.get_balance(account_id)
    assert (balance.current, balance.unapplied_credit, balance.credit_lots) == (-300, 300, ((credit.id, 300),))
    _assert_invariant(account_id)


def test_money_back_that_nothing_can_take_becomes_a_one_time_invoice_payment_refunded(aws):
    # P paid A; a refund of P took it back and Q paid A again; then P is disputed: P's money is on no
    # invoice any more, so the money back is a One-time invoice "Payment refunded" — never an error.
    account_id = _account()
    a = _charge(account_id, 1000)
    p = _pay(account_id, 1000)
    ledger_commit.money_back(account_id, refund_id="re_first", amount=1000, payment_id=p)
    _pay(account_id, 1000)
    assert ledger.get_invoice(account_id, a.id).status == "closed"

    result = ledger_commit.money_back(account_id, refund_id="du_dispute", amount=1000, payment_id=p)

    assert (result.credit_used, result.reopened) == (0, [])
    inv = ledger.get_invoice(account_id, result.invoice_id)
    assert (inv.type, inv.description, inv.total, inv.status) == ("one_time", ledger.PAYMENT_REFUNDED, 1000, "open")
    assert ledger.get_invoice(account_id, a.id).status == "closed"
    assert ledger.get_balance(account_id).current == 1000
    _assert_invariant(account_id)
    with pytest.raises(AlreadyPostedError):
        ledger_commit.money_back(account_id, refund_id="du_dispute", amount=1000, payment_id=p)
    assert ledger.get_balance(account_id).current == 1000
    assert len(ledger_store.all_invoices(account_id)) == 2


def test_money_back_raced_by_a_redelivery_is_placed_once(aws, monkeypatch):
    # 25 invoices paid by one payment (20 in its transaction, 5 through its credit); while one delivery
    # builds its first step, another delivery of the same refund places all of it (two transactions).
    account_id = _account()
    invoices = [_charge(account_id, 100) for _ in range(25)]
    p = _pay(account_id, 2500)
    assert all(ledger.get_invoice(account_id, i.id).status == "closed" for i in invoices)
    real_reopen, raced = ledger.placement._reopen, []

    def reopen_while_a_redelivery_places_it_all(*args, **kwargs):
        if not raced:
            raced.append(None)  # the racer's own steps run the real thing
            raced[0] = ledger_commit.money_back(account_id, refund_id="re_race", amount=2500, payment_id=p)
        return real_reopen(*args, **kwargs)

    monkeypatch.setattr(ledger.placement, "_reopen", reopen_while_a_redelivery_places_it_all)
    with pytest.raises(AlreadyPostedError):
        ledger_commit.money_back(account_id, refund_id="re_race", amount=2500, payment_id=p)

    assert len(raced[0].reopened) == 25 and raced[0].invoice_id is None
    assert ledger.get_balance(account_id).current == 2500
    assert [e.amount for e in ledger_store.entries(account_id) if e.kind == "money_back"] == [2000, 500]
    assert all(ledger.get_invoice(account_id, i.id).balance_due == 100 for i in invoices)
    _assert_invariant(account_id)


def _mark_past_due(account_id: str, *invoice_ids: str) -> None:
    UnitOfWork().add(*ledger.mark_past_due(account_id, invoice_ids)).commit()


def test_past_due_lives_with_the_balance_and_clears_when_the_last_marked_invoice_closes(aws):
    # DESIGN §3 v4 past_due: counted on the balance, moved in the transaction that marks, closes or
    # reopens a marked invoice — never by a new charge
    account_id = _account()
    a, b = _charge(account_id, 1000), _charge(account_id, 500)
    _mark_past_due(account_id, a.id, b.id)
    assert ledger.get_balance(account_id).past_due == 2
    assert ledger.mark_past_due(account_id, [a.id, b.id]) == []  # marked already: nothing to do
    _charge(account_id, 300)  # a new charge does not touch the count
    assert ledger.get_balance(account_id).past_due == 2
    pay = _pay(account_id, 1000)  # closes a
    assert ledger.get_balance(account_id).past_due == 1
    _credit(account_id, 500)  # closes b: the last marked one
    assert ledger.get_balance(account_id).past_due == 0
    assert ledger.get_invoice(account_id, a.id).past_due is True  # the mark stays on the closed invoice
    _assert_invariant(account_id)
    ledger_commit.money_back(account_id, refund_id="re_a", amount=1000, payment_id=pay)  # reopens a
    assert ledger.get_invoice(account_id, a.id).status == "open"
    assert ledger.get_balance(account_id).past_due == 1
    _assert_invariant(account_id)


def test_a_mark_racing_the_payment_that_closes_the_invoice_never_leaves_the_count_behind(aws, monkeypatch):
    account_id = _account()
    inv = _charge(account_id, 1000)
    ops = ledger.mark_past_due(account_id, [inv.id])  # read while open
    _pay(account_id, 1000)  # closes it first
    with pytest.raises(ConcurrentUpdateError):
        UnitOfWork().add(*ops).commit()
    assert ledger.mark_past_due(account_id, [inv.id]) == []
    # and the other way round: a payment planned before the mark is refused by the mark it did not read
    other = _charge(account_id, 700)
    planned, _ = ledger.apply_payment(account_id, payment_id="pay_late", amount=700)
    _mark_past_due(account_id, other.id)
    with pytest.raises(ConcurrentUpdateError):
        UnitOfWork().add(*planned).commit()
    ledger_commit.apply_payment(account_id, payment_id="pay_late", amount=700)
    assert ledger.get_balance(account_id).past_due == 0
    _assert_invariant(account_id)


def test_carried_forward_marks_open_invoices_only(aws):
    account_id = _account()
    inv, paid = _charge(account_id, 20), _charge(account_id, 40)
    _pay(account_id, 20)  # closes inv (oldest first)
    UnitOfWork().add(*ledger.mark_carried_forward(account_id, [inv.id, paid.id])).commit()
    assert ledger.get_invoice(account_id, inv.id).carried_forward is False
    assert ledger.get_invoice(account_id, paid.id).carried_forward is True
    _assert_invariant(account_id)
