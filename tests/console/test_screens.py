"""The console's other screens in the browser: the option chain, an administrator running a
tournament that a user joins and trades in, predictions, and the admin area that only
administrators see."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import expect

from tests.console.conftest import PHONE, People, console_server
from tests.factories import PASSWORD
from tradepit.domain.accounts import Role


async def test_the_option_chain(tmp_path: Path, db_sqlite: str, people: People) -> None:
    async with console_server(tmp_path / "data", db_sqlite) as server:
        meera = await people(server, "meera")
        page = meera.page
        await meera.open()
        await meera.sign_up("meera")
        await meera.go("Option chain")
        chain = page.get_by_role("table", name=re.compile("NIFTY option chain, expiry"))
        await expect(chain).to_be_visible()
        for heading in ("CE (calls)", "PE (puts)", "Strike", "CE IV %", "PE Delta", "CE OI"):
            await expect(
                chain.get_by_role("columnheader", name=heading, exact=True)
            ).to_be_visible()
        summary = page.get_by_role("region", name="Summary")
        for figure in ("Spot", "PCR (OI)", "Max pain", "ATM IV"):
            await expect(summary.get_by_text(figure, exact=True)).to_be_visible()
        await meera.snap("chain")

        await page.get_by_label("Underlying").select_option("BANKNIFTY")
        await expect(
            page.get_by_role("table", name=re.compile("^BANKNIFTY option chain"))
        ).to_be_visible()
        expiries = page.get_by_label("Expiry")
        later = await expiries.locator("option").nth(1).get_attribute("value")
        assert later
        await expiries.select_option(later)
        await expect(
            page.get_by_role("table", name=f"BANKNIFTY option chain, expiry {later}")
        ).to_be_visible()

        await page.set_viewport_size(PHONE)
        await meera.no_horizontal_scroll()
        await meera.snap("chain-phone")

        # A contract's price leads to the ticket, filled with its trading symbol.
        trade = page.get_by_role("link", name=re.compile(r"^Trade BANKNIFTY\w+CE at")).first
        label = await trade.get_attribute("aria-label")
        assert label
        contract = label.split()[1]
        await trade.click()
        ticket = page.get_by_role("form", name="Order ticket")
        await expect(ticket.get_by_label("Symbol")).to_have_value(contract)
        await expect(ticket.get_by_label("Product")).to_have_value("NRML")


async def test_a_tournament_from_creation_to_the_leaderboard(
    tmp_path: Path, db_sqlite: str, people: People
) -> None:
    async with console_server(tmp_path / "data", db_sqlite, speed=60) as server:
        # An administrator creates a tournament and starts it.
        boss = await people(server, "admin")
        await boss.open()
        await boss.log_in(await server.admin(), PASSWORD)
        await boss.go("Admin")
        admin = boss.page
        for panel in ("Users", "Wallet adjustment", "Tournaments", "Broadcasts", "Audit log"):
            await expect(admin.get_by_role("heading", name=panel, exact=True)).to_be_visible()
        create = admin.get_by_role("form", name="New tournament")
        await create.get_by_label("Name").fill("Friday sprint")
        await create.get_by_label("Allow late entry").check()
        await create.get_by_role("button", name="Create tournament").click()
        await admin.get_by_role("button", name="Start now Friday sprint").click()
        await expect(admin.get_by_role("row").filter(has_text="Friday sprint")).to_contain_text(
            "running"
        )
        await boss.snap("admin")

        # A user never sees the admin area, not even by its address.
        kiran = await people(server, "kiran")
        page = kiran.page
        await kiran.open()
        await kiran.sign_up("kiran")
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Tournaments")).to_be_visible()
        await expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
        await page.goto(f"{server.base}/#/admin")
        await expect(page.get_by_role("heading", name="Trade", level=2)).to_be_visible()

        # The user joins, trades inside the tournament and sees the leaderboard live.
        await kiran.go("Tournaments")
        await page.get_by_role("button", name="Join Friday sprint").click()
        await page.get_by_role("dialog").get_by_role("button", name="Join").click()
        await expect(page.get_by_role("heading", name="Friday sprint", level=2)).to_be_visible()
        await expect(page.get_by_role("heading", name="Leaderboard")).to_be_visible()
        standings = page.get_by_role("table", name="Standings")
        me = standings.locator("tr[aria-current=true]")
        await expect(me).to_contain_text("kiran (you)")
        await expect(page.get_by_text("Your rank: 1 of 1")).to_be_visible()
        ticket = page.get_by_role("form", name="Order ticket")
        await ticket.get_by_label("Quantity").fill("5")
        await ticket.get_by_role("button", name="Place order").click()
        orders = page.get_by_role("table", name="Orders")
        bought = orders.get_by_role("row").filter(has_text="RELIANCE")
        await expect(bought).to_contain_text("filled")
        await expect(
            page.get_by_role("table", name="Positions")
            .get_by_role("row")
            .filter(has_text="RELIANCE")
        ).to_have_count(1)
        await expect(me.get_by_role("cell").last).to_have_text("1")  # the fill, on the live board
        await kiran.snap("tournament")

        # The administrator ends it; the user's board turns final without a reload.
        await admin.get_by_role("button", name="End now Friday sprint").click()
        await admin.get_by_role("dialog").get_by_role("button", name="End now").click()
        await expect(admin.get_by_role("row").filter(has_text="Friday sprint")).to_contain_text(
            "ended"
        )
        await expect(page.get_by_role("heading", name="Final leaderboard")).to_be_visible()
        await expect(me).to_contain_text("kiran (you)")

        # The administrator credits USDT; the user makes a one-minute prediction (a second at
        # this clock's speed) and sees it resolve.
        await boss.page.reload()
        await expect(admin.get_by_role("heading", name="Admin", level=2)).to_be_visible()
        wallet = admin.get_by_role("form", name="Wallet adjustment")
        await wallet.get_by_label("User").select_option(label="kiran")
        await wallet.get_by_label("Currency").select_option("USDT")
        await wallet.get_by_label("Amount").fill("100")
        await wallet.get_by_label("Reason").fill("practice money")
        await wallet.get_by_role("button", name="Adjust wallet").click()
        await expect(wallet.get_by_role("status")).to_contain_text("100.00 USDT")

        await kiran.go("Predictions")
        await expect(page.get_by_text("Balance: 100.00 USDT")).to_be_visible()
        bet = page.get_by_role("form", name="New prediction")
        await bet.get_by_label("Short (price falls)").check()
        await bet.get_by_role("button", name="Place prediction").click()
        await expect(page.get_by_text("Balance: 90.00 USDT")).to_be_visible()
        predictions = page.get_by_role("table", name="Your predictions")
        await expect(
            predictions.get_by_role("row").filter(has_text="short BTC-USDT")
        ).to_contain_text(re.compile("won|lost|refunded"), timeout=15_000)
        await kiran.snap("predictions")

        # The audit log shows the adjustment; deactivating the user logs them out.
        await boss.page.reload()
        await expect(admin.get_by_role("table", name="Audit log")).to_contain_text(
            "admin.wallet.adjust"
        )
        await admin.get_by_role("button", name="Deactivate kiran").click()
        await admin.get_by_role("dialog").get_by_role("button", name="Deactivate").click()
        await expect(
            admin.get_by_role("table", name="Users").get_by_role("row").filter(has_text="kiran")
        ).to_contain_text("deactivated")
        await nav.get_by_role("link", name="Trade").click()
        await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        await expect(page.get_by_role("alert").filter(has_text="logged out")).to_be_visible()


async def test_the_accounts_table_shows_who_edits_which_row(
    tmp_path: Path, db_sqlite: str, people: People
) -> None:
    async with console_server(tmp_path / "data", db_sqlite) as server:
        tara = await people(server, "tara")
        page = tara.page
        await tara.open()
        await tara.sign_up("tara")
        await tara.go("Accounts")
        add = page.get_by_role("form", name="Add an account")
        await add.get_by_label("Account name").fill("Desk one")
        await add.get_by_label("API key").fill("key-12345678")
        await add.get_by_label("API secret").fill("secret-12345678")
        await add.get_by_label("P&L").fill("125.5")
        await add.get_by_role("button", name="Add account").click()
        accounts = page.get_by_role("table", name="Accounts table")
        row = accounts.get_by_role("row").filter(has_text="Desk one")
        await expect(row).to_contain_text("free")
        await expect(row).not_to_contain_text("key-12345678")  # the secret is masked

        # The desk admin sees every row, and sees live who is editing it.
        boss = await people(server, "admin")
        await boss.open()
        await boss.log_in(await server.admin(Role.SUPERADMIN), PASSWORD)
        await boss.go("Accounts")
        seen = boss.page.get_by_role("table", name="Accounts table").get_by_role("row")
        theirs = seen.filter(has_text="Desk one")
        await expect(theirs).to_contain_text("free")

        await row.get_by_role("button", name=re.compile("Edit account")).click()
        editor = page.get_by_role("dialog")
        await expect(editor.get_by_role("heading", name="Edit account Desk one")).to_be_visible()
        await expect(theirs).to_contain_text("tara (until")
        await expect(theirs.get_by_role("button", name=re.compile("Edit account"))).to_be_disabled()
        await boss.snap("accounts-locked")
        await editor.get_by_label("Margin").fill("5000")
        await editor.get_by_role("button", name="Save").click()
        await expect(theirs).to_contain_text("5,000.00")
        await expect(theirs).to_contain_text("free")
        await tara.snap("accounts")

        # A superadmin broadcasts an order to every linked account and watches it go out.
        await boss.go("Admin")
        broadcast = boss.page.get_by_role("form", name="Broadcast an order")
        await broadcast.get_by_label("Lots").fill("2")
        await broadcast.get_by_role("button", name="Broadcast").click()
        sent = boss.page.get_by_role("table", name="Broadcasts").get_by_role("row")
        await expect(sent.filter(has_text="BUY RELIANCE")).to_contain_text("executed 1")
        await boss.snap("broadcast")
        await tara.go("Trade")
        await expect(page.get_by_role("table", name="Orders")).to_contain_text("RELIANCE")
        # A superadmin gives roles.
        role = boss.page.get_by_label("Role of tara")
        await role.select_option("admin")
        announced = boss.page.get_by_role("status").filter(has_text="tara is now admin")
        await expect(announced).to_have_count(1)
        await boss.page.reload()
        await expect(boss.page.get_by_label("Role of tara")).to_have_value("admin")
        await tara.go("Accounts")

        await row.get_by_role("button", name=re.compile("History of account")).click()
        history = page.get_by_role("table", name="History of account Desk one")
        await expect(history.get_by_role("row")).to_have_count(3)  # heading, created, updated
        await row.get_by_role("button", name=re.compile("Delete account")).click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(0)
        await expect(theirs).to_have_count(0)
