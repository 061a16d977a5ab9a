import datetime as dt
import hashlib
import json
from typing import IO, Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Discriminator, Field, Tag

from api._http import idempotency
from api._http.deps import CurrentUser, QueueDep, SessionDep, SettingsDep, invalid
from api._http.kick import enqueue_and_kick
from core.writes import transactions as txns
from core.writes.statements import StatementTooLarge
from core.writes.transactions import (
    MAX_BATCH,
    NotFound,
    TransactionCreate,
    TransactionFilter,
    TransactionPage,
    TransactionPublic,
    TransactionUpdate,
)
from core.writes.uploads import ImportResult, import_statement

router = APIRouter(prefix="/api/transactions", tags=["transactions"])

Batch = Annotated[list[TransactionCreate], Field(min_length=1, max_length=MAX_BATCH)]


def _shape(value: object) -> str:
    return "list" if isinstance(value, list) else "object"


# An object or a list, told apart by the JSON itself: only the matching shape is validated, so
# each problem is reported once (api._http.errors drops the tag from the error's location).
CreateBody = Annotated[
    Annotated[TransactionCreate, Tag("object")] | Annotated[Batch, Tag("list")],
    Discriminator(_shape),
]
# Ids are 64-bit: a larger number in the path is a 422, not a database error (500).
TxnId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]


def _not_found(txn_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"transaction {txn_id} not found")


def _canonical(value: object) -> bytes:
    return json.dumps(jsonable_encoder(value), sort_keys=True, separators=(",", ":")).encode()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionPublic | list[TransactionPublic],
    responses=idempotency.RESPONSES,
)
def create_transactions(
    request: Request,
    body: CreateBody,
    user: CurrentUser,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    idempotency_key: idempotency.KeyHeader = None,
) -> Response:
    """Create one transaction (an object) or up to 1,000 (a list); the answer has the same shape.

    With `Idempotency-Key`, a repeat of the same request answers the first answer and writes
    nothing; the key with another request is 422; a repeat while the first runs is 409.
    """
    keyed, replay = idempotency.start(session, user, idempotency_key, request, [_canonical(body)])
    if replay is not None:
        return replay
    items = body if isinstance(body, list) else [body]
    created = txns.create(session, user, items)
    value = created if isinstance(body, list) else created[0]
    response = idempotency.answer(session, keyed, value, status.HTTP_201_CREATED)
    session.commit()
    enqueue_and_kick(background, queue, user, settings)
    return response


@router.get("")
def list_transactions(
    user: CurrentUser,
    session: SessionDep,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    category: Annotated[str | None, Query(max_length=100, pattern=txns.NO_NUL)] = None,
    account: Annotated[
        str | None, Query(max_length=100, pattern=txns.NO_NUL, description="an account's name")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=txns.NO_NUL, description="text in the description"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=txns.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TransactionPage:
    """Your transactions, newest first."""
    filters = TransactionFilter(
        date_from=date_from,
        date_to=date_to,
        category=category,
        account=account,
        q=q,
        limit=limit,
        cursor=cursor,
    )
    try:
        return txns.list_page(session, user, filters)
    except ValueError as exc:
        raise invalid(("query", "cursor"), exc, cursor) from None


@router.patch("/{txn_id}")
def update_transaction(
    txn_id: TxnId,
    body: TransactionUpdate,
    user: CurrentUser,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> TransactionPublic:
    try:
        updated = txns.update(session, user, txn_id, body)
    except NotFound:
        raise _not_found(txn_id) from None
    except ValueError as exc:
        raise invalid(("body",), exc, body.model_dump(mode="json", exclude_unset=True)) from None
    session.commit()
    enqueue_and_kick(background, queue, user, settings)
    return updated


@router.delete("/{txn_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_transaction(
    txn_id: TxnId,
    user: CurrentUser,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Response:
    try:
        txns.delete(session, user, txn_id)
    except NotFound:
        raise _not_found(txn_id) from None
    session.commit()
    enqueue_and_kick(background, queue, user, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class StatementProblem(BaseModel):
    line: int = Field(description="1-based line (CSV) or transaction (OFX); 0: an option")
    column: str | None
    reason: str


class StatementRejected(BaseModel):
    """What `api._http.app` answers for a rejected statement (nothing was imported)."""

    detail: str
    errors: list[StatementProblem]


class RequestInvalid(BaseModel):
    """FastAPI's own 422 (a missing or malformed field), as in every other operation."""

    detail: list[dict[str, Any]]


def _file_digest(file: IO[bytes], limit: int) -> bytes:
    """SHA-256 of the upload's file, read in chunks and no further than `limit` + 1 bytes (the
    import refuses a larger file anyway); the file is left at its start."""
    digest, read = hashlib.sha256(), 0
    file.seek(0)
    while read <= limit and (chunk := file.read(min(1 << 16, limit + 1 - read))):
        digest.update(chunk)
        read += len(chunk)
    file.seek(0)
    return digest.digest()


def _field(value: str | None) -> bytes:
    return b"\x00" if value is None else b"=" + value.encode()


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    # Declared so that clients (and the schema checks) know the rejection's shape; a 422 is
    # either a rejected statement or, as anywhere, a malformed request.
    responses={
        **idempotency.RESPONSES,
        413: {"description": "file too large", "model": StatementRejected},
        415: {"description": "not a statement", "model": StatementRejected},
        422: {
            "description": "a statement with errors, or a malformed request",
            "model": StatementRejected | RequestInvalid,
        },
    },
)
def upload_statement(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File(description="CSV, OFX or QFX bank statement")],
    currency: Annotated[str | None, Form(description="for rows that name no currency")] = None,
    date_order: Annotated[
        str | None, Form(description="dmy, mdy or ymd if dates are ambiguous")
    ] = None,
    amount_sign: Annotated[
        str | None, Form(description="expense_positive for card exports")
    ] = None,
    account: Annotated[
        str | None,
        Form(description="the account to file every row under (else OFX's ACCTID, or default)"),
    ] = None,
    idempotency_key: idempotency.KeyHeader = None,
) -> Response:
    """Import a whole statement or nothing; rows an earlier upload stored in the same account
    are skipped. `Idempotency-Key` as for creating transactions: the file's bytes and the form
    fields are the request."""
    # Check the size first, so an upload over the limit is refused before any of it is read.
    if file.size is not None and file.size > settings.upload_max_bytes:
        raise StatementTooLarge(
            f"The file is larger than the limit of {settings.upload_max_bytes:,} bytes."
        )
    parts = [_field(file.filename), *map(_field, (currency, date_order, amount_sign, account))]
    if idempotency_key is not None:
        parts.append(_file_digest(file.file, settings.upload_max_bytes))
    keyed, replay = idempotency.start(session, user, idempotency_key, request, parts)
    if replay is not None:
        return replay
    # The spooled file itself, not its bytes: past 1 MB it is on disk, and the import reads it
    # a chunk at a time, refusing it at the limit even when its size was not known here.
    # A StatementError leaves the session uncommitted (nothing written); the app's handler
    # answers with its status and the line-numbered errors.
    result = import_statement(
        session,
        user,
        file.file,
        file.filename,
        settings,
        currency=currency,
        date_order=date_order,
        amount_sign=amount_sign,
        account=account,
    )
    response = idempotency.answer(session, keyed, result, status.HTTP_201_CREATED)
    session.commit()
    if result.imported:
        enqueue_and_kick(background, queue, user, settings)
    return response
