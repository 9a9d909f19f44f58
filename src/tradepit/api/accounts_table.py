"""csv-accounts' shared table: rows by index, CSV export and import, versions and restore."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from tradepit.api.deps import MAX_ID, CallerDep, IdPath, SessionDep, WiringDep
from tradepit.schemas.broker_accounts import (
    CsvChange,
    CsvEntry,
    CsvRow,
    CsvRowAdded,
    CsvRowSaved,
    ImportReport,
    VersionRead,
)
from tradepit.services import accounts_table

router = APIRouter(prefix="/api", tags=["accounts table"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Only the desk admin adds rows for other users"},
    404: {"description": "No such row in your table"},
    409: {
        "description": "The row is locked by another user (ROW_LOCKED, the message names them); "
        "on update_csv also VERSION_CONFLICT (another user changed it since the version sent) "
        "and ROW_MOVED (the index now holds another row than the id sent)"
    },
}
IndexPath = Annotated[int, Path(ge=0, le=MAX_ID, description="Position in your table, or id")]
ByQuery = Annotated[
    Literal["index", "id"], Query(description="Whether the path gives the index or the id")
]
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("/fetch_csv", summary="The accounts table", responses=ERRORS)
async def fetch_csv(caller: CallerDep, session: SessionDep) -> list[CsvRow]:
    """Return the rows I may see (the desk admin: every row), secrets masked."""
    return await accounts_table.fetch(session, caller)


@router.post("/add_csv", status_code=status.HTTP_201_CREATED, summary="Add a row", responses=ERRORS)
async def add_csv(
    entry: CsvEntry, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> CsvRowAdded:
    """Add a row (a linked account of ``user``: me, or anyone for the desk admin); the answer
    is the row, and in ``data`` my whole table after it."""
    return await accounts_table.add(session, wired.wall, wired.sealer, wired.bus, caller, entry)


@router.put("/update_csv/{index}", summary="Change a row", responses=ERRORS)
async def update_csv(
    index: IndexPath,
    entry: CsvChange,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    by: ByQuery = "index",
) -> CsvRowSaved:
    """Change the fields sent; 409 while another user holds the row's lock. Secrets sent
    empty or masked stay as they are. A row fetched from ``fetch_csv`` may be sent back
    whole: its ``version`` is checked, its ``index`` ignored."""
    return await accounts_table.change(
        session, wired.wall, wired.sealer, wired.bus, caller, index, entry, entry.sent(),
        by_id=by == "id",
    )  # fmt: skip


@router.delete("/delete_csv/{index}", summary="Delete a row", responses=ERRORS)
async def delete_csv(
    index: IndexPath,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    by: ByQuery = "index",
) -> dict[str, Any]:
    """Delete the row (its versions are kept); 409 while another user holds its lock."""
    await accounts_table.remove(session, wired.wall, wired.bus, caller, index, by_id=by == "id")
    return {"success": True, "message": "row deleted"}


@router.get(
    "/accounts/export.csv",
    summary="The table as CSV",
    responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
)
async def export_csv(caller: CallerDep, session: SessionDep) -> Response:
    """Return my table as CSV, secrets masked."""
    text = accounts_table.export(await accounts_table.fetch(session, caller))
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )


@router.post(
    "/accounts/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportReport,
    summary="Add rows from CSV",
    responses={**ERRORS, 422: {"model": ImportReport, "description": "Rows with errors"}},
    openapi_extra=CSV_BODY,
)
async def import_csv(
    request: Request, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> Response:
    """Add every row of a CSV file (UTF-8, columns as the export's) or, if the file is
    malformed or any row invalid, none: 422 with the line and reason of each problem."""
    report = await accounts_table.import_rows(
        session, wired.wall, wired.sealer, wired.bus, caller, await request.body()
    )
    code = status.HTTP_201_CREATED if report.success else status.HTTP_422_UNPROCESSABLE_CONTENT
    return JSONResponse(report.model_dump(), status_code=code)


@router.get("/accounts/{account_id}/history", summary="A row's versions", responses=ERRORS)
async def history(account_id: IdPath, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """Return every kept version of the account, oldest first, secrets masked."""
    versions: list[VersionRead] = await accounts_table.history(session, caller, account_id)
    return {"versions": versions}


@router.post(
    "/accounts/{account_id}/restore/{version}", summary="Restore a version", responses=ERRORS
)
async def restore(
    account_id: IdPath,
    version: Annotated[int, Path(ge=1, le=MAX_ID)],
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
) -> dict[str, Any]:
    """Put that version of the row back (a deleted row comes back); kept as a new version."""
    return await accounts_table.restore(session, wired.wall, wired.bus, caller, account_id, version)
