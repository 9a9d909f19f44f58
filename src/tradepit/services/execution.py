"""Applying fills and their money: holds, positions, ledger postings, short margin, and the
end-of-day actions (expiry, square-off).

Every function here runs inside the caller's transaction; the caller has locked the user.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.brackets import check_reduce_only
from tradepit.domain.clock import Clock
from tradepit.domain.errors import InvalidInput
from tradepit.domain.fees import FeeSchedule
from tradepit.domain.fills import (
    FILL_MODELS,
    FillPlan,
    market_fill,
)
from tradepit.domain.instruments import Instrument, Kind
from tradepit.domain.ledger import Posting
from tradepit.domain.market import Tick
from tradepit.domain.money import plain
from tradepit.domain.orders import (
    Fill,
    OrderType,
    Product,
    Side,
    Status,
    Validity,
    transition,
)
from tradepit.domain.positions import Position, PositionChange
from tradepit.domain.tournaments import PositionLimits, check_position
from tradepit.schemas.tournaments import TournamentRules
from tradepit.services import wallets
from tradepit.store import orders as store
from tradepit.store import rows
from tradepit.store import tournaments as tournament_store
from tradepit.store import wallets as wallet_store
from tradepit.store.orders import FillRow, OrderRow, PositionRow
from tradepit.store.tournaments import Tournament
from tradepit.store.wallets import Wallet
from tradepit.trading.state import PositionView

#: The system wallets on the other side of trades and charges.

MARKET = "system:market"

FEES = "system:fees"


class OrderRejected(InvalidInput):
    """The order cannot be filled (no book, nothing to sell...)."""

    code = "ORDER_REJECTED"


def no_short(instrument: Instrument, product: Product) -> str:
    if instrument.short_margin is None:
        return f"{instrument.symbol} cannot be sold short"
    return f"{instrument.symbol} can be sold short only intraday (MIS), not {product.value}"


async def hold(
    session: AsyncSession,
    fees: FeeSchedule,
    instrument: Instrument,
    product: Product,
    order: OrderRow,
    tick: Tick,
) -> None:
    """Block the cash a resting buy may need: its quantity at its limit (or trigger, or a 5 %
    cushion over the ask for a stop-market), plus the charges of that fill. A buy carried on
    margin (a future, an intraday long) blocks the margin of that notional instead."""
    remaining = order.quantity - order.filled_quantity
    basis = order.price or (order.trigger_price or tick.ask) * Decimal("1.05")
    basis = basis.quantize(instrument.tick_size)
    notional = instrument.in_settlement(remaining * basis * instrument.multiplier, basis)
    cushioned = "1.05 × trigger price" if order.trigger_price else "1.05 × ask"
    how = notional_words(instrument, "limit price" if order.price else cushioned)
    if instrument.margined(product.value, long=True):
        assert instrument.short_margin is not None
        notional = (notional * instrument.short_margin).quantize(Decimal("1e-8"))
        how = f"{plain(instrument.short_margin * 100)}% margin on {how}"
    charges = fees.charges(instrument, product, Side.BUY, remaining, basis).total
    amount = notional + charges
    wallet = await cash_wallet(session, order.user_id, instrument.currency, order.tournament_id)
    if not await wallet_store.hold(session, wallet.id, amount):
        need = f"this order needs {plain(amount)} ({how} + charges)"
        raise wallets.short_of(instrument.currency, need, wallet.balance, wallet.blocked)
    order.held = amount


def notional_words(instrument: Instrument, price: str) -> str:
    """Say how a notional is counted, for a refusal: ``<price> x quantity``, times the contract
    size where there is one; for a pair settled in its base currency, the contract size of
    base currency per lot (the price converts it back)."""
    size = f" × contract size {plain(instrument.multiplier)}" if instrument.multiplier != 1 else ""
    if instrument.settles_in_base:
        return f"quantity{size} {instrument.currency}"
    return f"{price} × quantity{size}"


async def cash_wallet(
    session: AsyncSession, user_id: int, currency: str, tournament_id: int | None = None
) -> Wallet:
    """Return the wallet an order trades: the user's main cash wallet, or their isolated
    wallet in a tournament."""
    name = wallets.CASH if tournament_id is None else wallets.tournament_wallet(tournament_id)
    wallet = await wallet_store.find_wallet(session, user_id, name, currency)
    if wallet is None:
        where = "" if tournament_id is None else f" in tournament {tournament_id}"
        raise OrderRejected(f"you have no {currency} wallet{where}")
    return wallet


async def cancel_rest(
    session: AsyncSession, clock: Clock, instrument: Instrument, order: OrderRow, reason: str
) -> None:
    """Cancel what is left of ``order`` and release the cash it blocked."""
    await release(session, instrument, order, order.held)
    order.status = transition(Status(order.status), Status.CANCELLED).value
    order.reason = reason
    order.updated_at = clock.now()


async def expire(
    session: AsyncSession, clock: Clock, instrument: Instrument, order: OrderRow
) -> None:
    """Expire a DAY order whose session has closed, releasing what it blocked."""
    await release(session, instrument, order, order.held)
    order.status = transition(Status(order.status), Status.EXPIRED).value
    order.reason = "DAY order expired at the close"
    order.updated_at = clock.now()


def closing_order(clock: Clock, row: PositionRow, kind: str, reason: str) -> OrderRow:
    """Return a MARKET order that closes the whole position ``row`` (``kind``: its
    request_hash, e.g. "square-off")."""
    return store.new_order(
        user_id=row.user_id,
        symbol=row.symbol,
        order_type=OrderType.MARKET.value,
        side=(Side.SELL if row.quantity > 0 else Side.BUY).value,
        product=row.product,
        validity=Validity.DAY.value,
        quantity=abs(row.quantity),
        request_hash=kind,
        at=clock.now(),
        reason=reason,
        tournament_id=row.tournament_id,
    )


async def square_off(
    session: AsyncSession,
    clock: Clock,
    fees: FeeSchedule,
    instrument: Instrument,
    row: PositionRow,
    tick: Tick,
) -> OrderRow:
    """Close an intraday (MIS) position with a MARKET order at the current quote."""
    side = Side.SELL if row.quantity > 0 else Side.BUY
    quantity = abs(row.quantity)
    order = closing_order(clock, row, "square-off", "MIS square-off at 15:20 IST")
    session.add(order)
    await session.flush()
    plan = market_fill(
        side, quantity, tick, instrument, FILL_MODELS[instrument.venue], Validity.IOC
    )
    if plan.price is None or plan.filled == 0:
        order.status = transition(Status.OPEN, Status.REJECTED).value
        order.reason = f"MIS square-off could not fill: {plan.reason}"
        return order
    await execute(session, clock, fees, instrument, order, plan)
    if not Status(order.status).is_final:
        await cancel_rest(session, clock, instrument, order, f"MIS square-off: {plan.reason}")
    return order


async def settle(
    session: AsyncSession,
    clock: Clock,
    instrument: Instrument,
    row: PositionRow,
    price: Decimal,
    final: Decimal,
) -> OrderRow:
    """Close an expired future or option position at its settlement ``price`` (an option's
    intrinsic value, a future's final price; ``final`` is the underlying's), with no charges.

    Recorded as a filled order (``request_hash`` "settlement") with one fill, so the history
    shows it; the ledger posting is of kind "settlement".
    """
    side = Side.SELL if row.quantity > 0 else Side.BUY
    quantity = abs(row.quantity)
    basis = "intrinsic value" if instrument.right is not None else "final price"
    reason = (
        f"expiry settlement at the {basis} {plain(price)} "
        f"({instrument.underlying} closed at {plain(final)} on {instrument.expiry})"
    )
    order = closing_order(clock, row, "settlement", reason)
    session.add(order)
    await session.flush()
    fill = Fill(quantity, price, Decimal(0))
    await _apply_fill(
        session, clock, instrument, Product(row.product), order, side, fill, "taker",
        settlement=True,
    )  # fmt: skip
    return order


async def release(
    session: AsyncSession, instrument: Instrument, order: OrderRow, amount: Decimal
) -> None:
    if amount <= 0:
        return
    wallet = await cash_wallet(session, order.user_id, instrument.currency, order.tournament_id)
    await wallet_store.hold(session, wallet.id, -amount)
    order.held -= amount


async def execute(
    session: AsyncSession,
    clock: Clock,
    fees: FeeSchedule,
    instrument: Instrument,
    order: OrderRow,
    plan: FillPlan,
) -> None:
    """Apply the fill ``plan`` to ``order``: fill, position, ledger, released hold, status."""
    assert plan.price is not None
    side, product = Side(order.side), Product(order.product)
    remaining = order.quantity - order.filled_quantity
    freed = order.held if plan.filled == remaining else order.held * plan.filled / remaining
    await release(session, instrument, order, freed.quantize(Decimal("1e-8")))
    charges = fees.charges(instrument, product, side, plan.filled, plan.price, plan.liquidity)
    fill = Fill(plan.filled, plan.price, charges.total)
    await _apply_fill(session, clock, instrument, product, order, side, fill, plan.liquidity)


async def _apply_fill(
    session: AsyncSession,
    clock: Clock,
    instrument: Instrument,
    product: Product,
    order: OrderRow,
    side: Side,
    fill: Fill,
    liquidity: str,
    *,
    settlement: bool = False,
) -> None:
    user_id, tournament_id = order.user_id, order.tournament_id
    row = await store.position(session, user_id, instrument.symbol, product.value, tournament_id)
    position = position_of(user_id, instrument.symbol, product, row)
    shorting = side is Side.SELL and position.quantity - fill.quantity < 0
    if shorting and not instrument.can_short(product.value):
        raise OrderRejected(
            f"you hold {plain(position.quantity)} {instrument.symbol} ({product.value}); "
            f"{no_short(instrument, product)}"
        )
    # The checks of placing and modifying hold at every fill: the position may have changed
    # since (other fills, a close by hand), so they are made again against it.
    if order.leg is not None:
        check_reduce_only(order.leg, side, fill.quantity, position.quantity)
    if tournament_id is not None and not settlement:
        t = await session.get(Tournament, tournament_id)
        assert t is not None  # an order names only a tournament that exists
        change_by = side.sign * fill.quantity
        check_position(
            limits_of(t), position.quantity, change_by, fill.price, instrument.multiplier,
            settles_in_base=instrument.settles_in_base,
        )  # fmt: skip
    if settlement:
        change = position.settle(
            fill.price, instrument.multiplier, settles_in_base=instrument.settles_in_base
        )
    else:
        change = position.apply(
            side, fill, instrument.multiplier, settles_in_base=instrument.settles_in_base
        )
    now = clock.now()
    figures = {
        "quantity": position.quantity,
        "cost_basis": position.cost_basis,
        "realized_gross": position.realized_gross,
        "charges": position.charges,
        "updated_at": now,
    }
    if row is None:
        row = PositionRow(
            user_id=user_id,
            tournament_id=tournament_id,
            symbol=instrument.symbol,
            product=product.value,
            **figures,
        )
        await rows.add(session, row)
        store.remember_position(session, row)
    else:
        await rows.write(session, row, **figures)
    fill_row = FillRow(
        order_id=order.id,
        quantity=fill.quantity,
        price=fill.price,
        charges=fill.charges,
        liquidity=liquidity,
        at=now,
    )
    await rows.add(session, fill_row)
    store.remember_fill(session, fill_row)
    filled = order.filled_quantity + fill.quantity
    average = (
        (order.average_price or Decimal(0)) * order.filled_quantity + fill.price * fill.quantity
    ) / filled
    target = Status.FILLED if filled == order.quantity else Status.PARTIALLY_FILLED
    current = Status(order.status)
    if current is Status.AMO:
        current = transition(current, Status.OPEN)
    await rows.write(
        session,
        order,
        average_price=average.quantize(Decimal("1e-8")),
        filled_quantity=filled,
        charges=order.charges + fill.charges,
        status=transition(current, target).value,
        updated_at=now,
    )
    gross = trade_cash(instrument, product, change)
    cash = gross - fill.charges
    kind = "settlement" if settlement else "trade"
    # What the fill pays, in words, for a refusal: a position on margin opens for its charges
    # alone and closes for its P&L.
    pays = "charges"
    if gross and change.closed and instrument.margined(product.value, long=change.before > 0):
        pays = "the loss it realizes + charges"
    elif gross:
        pays = f"{notional_words(instrument, 'price')} + charges"
    await _post_trade(session, clock, instrument, order, cash, fill.charges, kind, pays)
    await _margin(session, instrument, product, row, change, -cash)
    if change.opened > 0:
        await _check_available(session, instrument, order, -cash)
    if tournament_id is not None:
        won = change.realized - fill.charges > 0
        await tournament_store.record_fill(
            session, tournament_id, user_id, closed=change.closed > 0, won=won
        )


def limits_of(t: Tournament) -> PositionLimits:
    """Return the rules that bound an entry's positions in the tournament ``t``."""
    rules = TournamentRules.model_validate(t.rules)
    return PositionLimits(rules.allow_shorts, rules.max_position_pct, t.starting_capital)


async def _check_available(
    session: AsyncSession, instrument: Instrument, order: OrderRow, paid: Decimal
) -> None:
    """Refuse a fill that opens a position with money blocked for other orders or margin.

    The wallet's balance never goes below zero (the ledger refuses it), but a fill may cost
    more than its order blocked (a MARKET order blocks nothing; a gap fills an after-market
    or stop order above its cushion): what it pays beyond its own hold must come from the
    money still available, as at placing. ``paid``: what the fill took from the wallet; the
    refusal shows the wallet as it was before.
    """
    wallet = await cash_wallet(session, order.user_id, instrument.currency, order.tournament_id)
    if wallet.blocked > wallet.balance:
        need = f"this order needs {plain(paid)} ({notional_words(instrument, 'price')} + charges)"
        raise wallets.short_of(instrument.currency, need, wallet.balance + paid, wallet.blocked)


def trade_cash(instrument: Instrument, product: Product, change: PositionChange) -> Decimal:
    """Return the cash a fill moves into (+) or out of (-) the wallet, before charges.

    A position carried on margin (``Instrument.margined``) exchanges no notional: closing it
    settles its realized P&L in cash (in the settlement currency: ``Position.apply`` converted
    it for a pair settled in its base). Any other position pays (long) or receives (short)
    the notional. A fill that flips a position settles the old side one way and opens the new
    side the other.
    """
    multiplier = instrument.multiplier
    cash = Decimal(0)
    if change.closed:
        if instrument.margined(product.value, long=change.before > 0):
            cash += change.realized
        else:
            cash += -change.side.sign * change.closed * change.price * multiplier
    if change.opened and not instrument.margined(product.value, long=change.after > 0):
        cash += -change.side.sign * change.opened * change.price * multiplier
    return cash


def margin_for(
    instrument: Instrument, product: Product, long: bool, quantity: Decimal, price: Decimal
) -> Decimal:
    """Return what opening ``quantity`` at ``price`` blocks while it is open.

    - on margin (a future either way, an intraday long): the kind's margin rate x the notional;
    - an option sold: its premium plus the OPTION rate x the strike notional (the stand-in for
      SPAN + exposure margin);
    - any other short (intraday equity, forex): the proceeds plus the margin rate x notional;
    - any other long: nothing (it was paid in full).

    The notional is in the settlement currency (``Instrument.in_settlement``): a pair settled in
    its base blocks the rate x quantity x contract size of base currency.
    """
    rate = instrument.short_margin
    notional = instrument.in_settlement(quantity * price * instrument.multiplier, price)
    if instrument.margined(product.value, long):
        assert rate is not None
        amount = notional * rate
    elif long:
        return Decimal(0)
    elif instrument.kind is Kind.OPTION:
        assert rate is not None and instrument.strike is not None
        amount = notional + quantity * instrument.strike * instrument.multiplier * rate
    else:
        assert rate is not None
        amount = notional * (1 + rate)
    return amount.quantize(Decimal("1e-8"))


async def _margin(
    session: AsyncSession,
    instrument: Instrument,
    product: Product,
    row: PositionRow,
    change: PositionChange,
    paid: Decimal,
) -> None:
    """Release the closed share of what the position blocked; block what the opened part
    needs (``margin_for``). ``paid``: what the fill took from the wallet (negative: brought
    in), for the refusal, which shows the wallet as it was before the fill."""
    wallet = await cash_wallet(session, row.user_id, instrument.currency, row.tournament_id)
    blocked = row.blocked or Decimal(0)
    if change.closed > 0 and blocked:
        release = (blocked * change.closed / abs(change.before)).quantize(Decimal("1e-8"))
        if change.closed == abs(change.before):
            release = blocked
        await wallet_store.hold(session, wallet.id, -release)
        blocked -= release
    if change.opened > 0:
        long = change.after > 0
        amount = margin_for(instrument, product, long, change.opened, change.price)
        if amount and not await wallet_store.hold(session, wallet.id, amount):
            need = _margin_message(instrument, product, change, amount, paid)
            cash = wallet.balance + paid
            raise wallets.short_of(instrument.currency, need, cash, wallet.blocked)
        blocked += amount
    if blocked != row.blocked:
        await rows.write(session, row, blocked=blocked)


def _margin_message(
    instrument: Instrument,
    product: Product,
    change: PositionChange,
    amount: Decimal,
    paid: Decimal,
) -> str:
    what = "buying" if change.after > 0 else "selling"
    if change.after < 0 and not instrument.margined(product.value, long=False):
        what = "selling short"
    words = f"{_basis(instrument, product, change)} as margin"
    if paid > 0:
        words += f" + {plain(paid)} {'paid for the fill' if change.closed else 'charges'}"
    elif paid < 0:
        brought = "the fill brings in" if change.closed else "the sale brings in, net of charges"
        words += f" - {plain(-paid)} {brought}"
    return (
        f"{what} {plain(change.opened)} {instrument.symbol} ({product.value}) needs "
        f"{plain(amount + paid)} ({words})"
    )


def _basis(instrument: Instrument, product: Product, change: PositionChange) -> str:
    rate = (instrument.short_margin or Decimal(0)) * 100
    if instrument.settles_in_base:
        return f"{rate.normalize():f}% of the notional ({notional_words(instrument, '')})"
    if instrument.margined(product.value, long=change.after > 0):
        return f"{rate.normalize():f}% of the notional"
    if instrument.kind is Kind.OPTION:
        return f"the premium plus {rate.normalize():f}% of the strike notional"
    return f"proceeds plus {rate.normalize():f}% margin"


async def _post_trade(
    session: AsyncSession,
    clock: Clock,
    instrument: Instrument,
    order: OrderRow,
    cash: Decimal,
    charges: Decimal,
    kind: str,
    pays: str,
) -> None:
    """Post ``cash`` (net of ``charges``) to the user; the market takes the other side of the
    trade and the fee wallet the charges. ``pays`` says what the cash is (``price x
    quantity + charges``), for the refusal of a wallet that cannot pay it."""
    currency = instrument.currency
    wallet = await cash_wallet(session, order.user_id, currency, order.tournament_id)
    now = clock.now()
    market_wallet = await wallet_store.system_wallet_id(session, MARKET, currency, now)
    fee_wallet = await wallet_store.system_wallet_id(session, FEES, currency, now)
    postings = [
        Posting(wallet.id, currency, cash),
        Posting(market_wallet, currency, -(cash + charges)),
        Posting(fee_wallet, currency, charges),
    ]
    moved = [p for p in postings if p.amount != 0]
    if not moved:
        return  # an option that expired worthless: no money moves
    try:
        await wallets.post(session, clock, kind=kind, reference=f"order:{order.id}", postings=moved)
    except wallets.InsufficientFunds:
        need = f"this order needs {plain(-cash)} ({pays})"
        raise wallets.short_of(currency, need, wallet.balance, wallet.blocked) from None


def position_of(
    user_id: int, symbol: str, product: Product, row: PositionRow | PositionView | None
) -> Position:
    if row is None:
        return Position(user_id, symbol, product)
    return Position(
        user_id,
        symbol,
        product,
        quantity=row.quantity,
        cost_basis=row.cost_basis,
        realized_gross=row.realized_gross,
        charges=row.charges,
    )
