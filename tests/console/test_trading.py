"""A new user in the browser: sign up, watch prices move, trade from the ticket, see the fill,
the position and the funds change live, cancel a resting order, close the position, log out."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from tests.console.conftest import PHONE, People, console_server


async def accessible_name(page: Page, role: str, pattern: str) -> str:
    """Return the accessible name of the element of ``role`` whose name matches ``pattern``."""
    element = page.get_by_role(role, name=re.compile(pattern))  # type: ignore[arg-type]
    label = await element.get_attribute("aria-label")
    assert label is not None
    return label


async def test_a_new_user_trades_and_logs_out(tmp_path: Path, db: str, people: People) -> None:
    async with console_server(tmp_path / "data", db, speed=5) as server:
        asha = await people(server, "asha")
        page = asha.page
        await asha.open()
        await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        await asha.snap("login")
        await asha.sign_up("asha")
        await expect(page.get_by_role("heading", name="Trade", level=2)).to_be_visible()

        # The default watchlist, its prices moving over /ws.
        watchlist = page.get_by_role("region", name="Watchlist")
        for symbol in ("RELIANCE", "BTC-USDT"):
            await expect(
                watchlist.get_by_role("button", name=re.compile(f"^{symbol} \\d"))
            ).to_be_visible()
        first = await accessible_name(page, "button", r"^BTC-USDT \d")
        await expect(
            page.get_by_role("button", name=re.compile(r"^BTC-USDT \d"))
        ).not_to_have_accessible_name(first, timeout=15_000)
        chart = page.get_by_role("img", name=re.compile("Candlestick chart of RELIANCE"))
        await expect(chart).to_be_visible()
        await asha.snap("trade")

        # A market order from the ticket fills; the position and the funds follow live.
        ticket = page.get_by_role("form", name="Order ticket")
        await ticket.get_by_label("Quantity").fill("2")
        await ticket.get_by_role("button", name="Place order").click()
        orders = page.get_by_role("table", name="Orders")
        await expect(
            orders.get_by_role("row").filter(has_text="RELIANCE").filter(has_text="filled")
        ).to_have_count(1)
        positions = page.get_by_role("table", name="Positions")
        held = positions.get_by_role("row").filter(has_text="RELIANCE")
        await expect(held).to_contain_text("CNC")
        await expect(held.get_by_role("cell").nth(1)).to_have_text("2")
        funds = page.get_by_role("region", name="Funds")
        await expect(funds.get_by_text("₹1,00,000.00")).to_have_count(0)  # cash left the wallet
        await asha.snap("filled")

        # Prices keep moving the position's last price and P&L, without a reload.
        await expect(ticket).to_contain_text("NSE is open")
        last = held.get_by_role("cell").nth(3)
        before = await last.inner_text()
        await expect(last).not_to_have_text(before, timeout=20_000)

        # A refusal shows next to the field that caused it: a take-profit below a buy.
        await ticket.get_by_label("Quantity").fill("1")
        await ticket.get_by_label("Take-profit price").fill("1000")
        asha.watch.expect(400, "/api/paper-trading/orders")
        await ticket.get_by_role("button", name="Place order").click()
        take_profit = ticket.get_by_label("Take-profit price")
        await expect(take_profit).to_have_accessible_description(re.compile("take.profit", re.I))
        await expect(take_profit).to_have_attribute("aria-invalid", "true")
        await asha.snap("refusal")

        # A bracket: its legs rest once the entry fills.
        await take_profit.fill("2000")
        await ticket.get_by_label("Stop-loss price").fill("1000")
        await ticket.get_by_role("button", name="Place order").click()
        for leg in ("take-profit", "stop-loss"):
            await expect(orders.get_by_role("row").filter(has_text=leg)).to_contain_text("open")
        await expect(held.get_by_role("cell").nth(1)).to_have_text("3")
        await take_profit.fill("")
        await ticket.get_by_label("Stop-loss price").fill("")

        # A limit price off the tick is refused next to it.
        await ticket.get_by_label("Order type").select_option("LIMIT")
        await ticket.get_by_label("Limit price").fill("1010.03")
        asha.watch.expect(400, "/api/paper-trading/orders")
        await ticket.get_by_role("button", name="Place order").click()
        await expect(ticket.get_by_label("Limit price")).to_have_accessible_description(
            re.compile("tick size")
        )

        # A resting order: modified from the list, then cancelled after a confirmation in a
        # real dialog.
        await ticket.get_by_label("Limit price").fill("1010")
        await ticket.get_by_role("button", name="Place order").click()
        resting = orders.get_by_role("row").filter(has_text="1,010.00")
        await expect(resting).to_contain_text("open")
        await resting.get_by_role("button", name=re.compile("Modify order")).click()
        modify = page.get_by_role("dialog")
        await modify.get_by_label("Limit price").fill("1005")
        await modify.get_by_role("button", name="Save").click()
        resting = orders.get_by_role("row").filter(has_text="1,005.00")
        await expect(resting).to_contain_text("open")
        await resting.get_by_role("button", name=re.compile("Cancel order")).click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Cancel order")
        await asha.snap("confirm-cancel")
        await dialog.get_by_role("button", name="Cancel order").click()
        await expect(resting).to_contain_text("cancelled")

        # Close the position while its bracket's legs rest: the close sells what is held and
        # the legs are cancelled with it.
        await held.get_by_role("button", name=re.compile("Close RELIANCE")).click()
        await page.get_by_role("dialog").get_by_role("button", name="Close position").click()
        await expect(held).to_have_count(0)
        await expect(positions).to_contain_text("No open positions")
        for leg in ("take-profit", "stop-loss"):  # closing the position cancels its legs
            await expect(orders.get_by_role("row").filter(has_text=leg)).to_contain_text(
                "cancelled"
            )

        # Log out: the token is dropped, and the API refuses the old one.
        token = await page.evaluate("localStorage.getItem('tradepit.token')")
        assert token
        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        assert await page.evaluate("localStorage.getItem('tradepit.token')") is None
        async with httpx.AsyncClient(base_url=server.base) as http:
            refused = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401

        # Log in again, with the email this time.
        await asha.log_in("asha@example.com")
        await expect(page.get_by_role("heading", name="Trade", level=2)).to_be_visible()


async def test_at_a_phones_width_with_the_keyboard(
    tmp_path: Path, db_sqlite: str, people: People
) -> None:
    async with console_server(tmp_path / "data", db_sqlite) as server:
        ravi = await people(server, "ravi", PHONE)
        page = ravi.page
        await ravi.open()
        viewport = page.locator("meta[name=viewport]")
        assert "width=device-width" in (await viewport.get_attribute("content") or "")
        await ravi.no_horizontal_scroll()
        await ravi.sign_up("ravi")
        await expect(page.get_by_role("region", name="Watchlist")).to_be_visible()
        await ravi.no_horizontal_scroll()
        await ravi.snap("trade")

        # The keyboard alone, from a fresh load (the login is kept): the skip link first,
        # then the navigation.
        await page.reload()
        await expect(page.get_by_role("region", name="Watchlist")).to_be_visible()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        await page.keyboard.press("Tab")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Trade", exact=True)).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Option chain")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Option chain", level=2)).to_be_visible()
        await expect(page.get_by_role("table", name=re.compile("option chain"))).to_be_visible()
        await ravi.no_horizontal_scroll()
        await ravi.snap("chain")

        # Every screen fits the phone's width.
        for screen, ready in (
            ("Predictions", "Your predictions"),
            ("Tournaments", "Tournaments"),
            ("Accounts", "Accounts table"),
        ):
            await ravi.go(screen)
            await expect(page.get_by_role("table", name=ready)).to_be_visible()
            await ravi.no_horizontal_scroll()
            await ravi.snap(screen.lower())

        # Add an instrument from the search.
        await ravi.go("Trade")
        search = page.get_by_role("search")
        await search.get_by_label("Add instrument").fill("TCS")
        await search.get_by_label("Add instrument").press("Enter")
        await expect(
            page.get_by_role("region", name="Watchlist").get_by_role(
                "button", name=re.compile(r"^TCS \d")
            )
        ).to_be_visible()
        await expect(page.get_by_role("heading", name="Chart: TCS")).to_be_visible()
        await ravi.no_horizontal_scroll()
