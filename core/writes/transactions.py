"""Users' transactions: validation models and the create/list/update/delete operations.

Every change runs in the caller's session together with `mark_changed`, so the rows, the data
version bump and the dirty marker commit as one. Only the owner's rows are ever touched: every
query filters by user id, and another user's transaction is indistinguishable from a missing one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlmodel import Session, col

from core.base.currencies import currency_exponent
from core.base.models import Account, Transaction, utcnow
from core.base.money import decimal_string, display
from core.writes.accounts import DEFAULT_ACCOUNT, account_name, account_names
from core.writes.ledger import NewTransaction, mark_changed, row_values
from core.writes.statements import amount_to_minor, is_valid_currency
from core.writes.statements.amounts import check_amount_text
from core.writes.users import ensure_user

MAX_BATCH = 1000
MAX_PAGE = 200
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2100, 12, 31)

Amount = Annotated[
    StrictInt | StrictStr,
    Field(description="A decimal string such as '-12.34', or an integer in minor units (cents)"),
]
Currency = Annotated[str, Field(min_length=3, max_length=3, description="ISO 4217, e.g. USD")]
# PostgreSQL text cannot hold the NUL character: refused here (422) rather than by the database
# (500). Stated as a pattern so that the OpenAPI document says so too.
NO_NUL = r"^[^\x00]*$"


Description = Annotated[str, Field(max_length=500, pattern=NO_NUL)]
Category = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
AccountName = Annotated[
    str,
    Field(
        max_length=200,
        description=f"The account's name (1-100 characters); left out: '{DEFAULT_ACCOUNT}'",
    ),
]


def _check_account(value: object) -> object:
    # Before pydantic strips whitespace, so a blank name is an error and not the default.
    return account_name(value) if isinstance(value, str) else value


class NotFound(LookupError):
    """No such transaction for this user (whether it is missing or someone else's)."""


# The checks below name the field, never the value: a 422 does not echo the input back.


def _check_date(value: dt.date | None) -> dt.date | None:
    if value is not None and not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"date is outside {MIN_DATE.year}-{MAX_DATE.year}")
    return value


def _check_currency(code: str | None) -> str | None:
    if code is None:
        return None
    upper = code.strip().upper()
    if not is_valid_currency(upper):
        raise ValueError("currency is not an ISO 4217 code")
    return upper


def _unquoted(error: ValueError, value: object) -> ValueError:
    """`error`'s message without the value it quotes."""
    message = str(error)
    for text in {str(value), str(value).strip()}:
        message = message.replace(f" '{text}'", "")
    return ValueError(message)


def _check_amount_for_currency(value: str | int, info: ValidationInfo) -> str | int:
    """The amount against its currency's decimals (the currency is validated first); with an
    invalid currency, which is its own problem, the amount's form alone."""
    currency = info.data.get("currency")
    try:
        if currency is None:
            if isinstance(value, str):
                check_amount_text(value)
        else:
            amount_to_minor(value, currency)
    except ValueError as exc:
        raise _unquoted(exc, value) from None
    return value


_AMOUNT_FORMS = "a decimal string such as '-12.34' or an integer number of minor units"


def _amount_type(value: object) -> object:
    """One clear message for an amount of the wrong JSON type (rather than one per member of
    the int-or-string union)."""
    if value is None:
        raise ValueError(f"amount must be {_AMOUNT_FORMS}, not null")
    if isinstance(value, float):
        raise ValueError(
            f"amount must be {_AMOUNT_FORMS}; a JSON number with a fraction is refused "
            "(binary floats lose cents)"
        )
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"amount must be {_AMOUNT_FORMS}, not {_json_type(value)}")
    return value


def _amount_type_or_null(value: object) -> object:
    return None if value is None else _amount_type(value)


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "true/false" if isinstance(value, bool) else type(value).__name__


class TransactionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Currency before amount: the amount's decimals are checked against it, each problem at
    # its own field.
    date: dt.date
    currency: Currency
    amount: Amount
    description: Description = ""
    category: Category | None = None
    account: AccountName | None = None

    _check_amount = field_validator("amount", mode="before")(_amount_type)
    _account_name = field_validator("account", mode="before")(_check_account)
    _date_range = field_validator("date")(_check_date)
    _currency_code = field_validator("currency")(_check_currency)
    _amount_decimals = field_validator("amount")(_check_amount_for_currency)

    def to_new(self) -> NewTransaction:
        return NewTransaction(
            date=self.date,
            amount_minor=amount_to_minor(self.amount, self.currency),
            currency=self.currency,
            description=self.description,
            category=self.category,
            account=self.account,
        )


_NOT_NULL = ("date", "amount", "currency", "description")


class TransactionUpdate(BaseModel):
    """Fields to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    date: dt.date | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    description: Description | None = None
    category: Category | None = None

    _check_amount = field_validator("amount", mode="before")(_amount_type_or_null)
    _date_range = field_validator("date")(_check_date)
    _currency_code = field_validator("currency")(_check_currency)

    @model_validator(mode="after")
    def _valid(self) -> TransactionUpdate:
        for name in _NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (leave it out to keep its value)")
        if not self.model_fields_set:
            raise ValueError("nothing to change: give at least one field")
        return self


class TransactionPublic(BaseModel):
    id: int
    date: dt.date
    amount_minor: int
    amount: str = Field(description="The same amount as a decimal string, e.g. '-12.34'")
    currency: str
    description: str
    category: str | None
    account: str = Field(description="the name of the account it belongs to")
    statement_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: Transaction, account: str) -> TransactionPublic:
        assert row.id is not None
        return cls(
            id=row.id,
            date=row.date,
            amount_minor=row.amount_minor,
            amount=decimal_string(row.amount_minor, row.currency),
            currency=row.currency,
            description=row.description,
            category=row.category,
            account=account,
            statement_id=row.statement_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class TransactionPage(BaseModel):
    items: list[TransactionPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class TransactionFilter(BaseModel):
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    category: str | None = None
    account: str | None = None
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: str | None = None


def create(
    session: Session, user_id: str, items: list[TransactionCreate]
) -> list[TransactionPublic]:
    """Insert all items with one INSERT (RETURNING the rows), then bump the version."""
    ensure_user(session, user_id)
    values = row_values(session, user_id, [item.to_new() for item in items])
    # render_nulls: the ORM otherwise drops None values and starts a new INSERT each time the
    # set of non-null columns changes (a null category every few rows meant hundreds of them).
    insert = sa.insert(Transaction).returning(Transaction).execution_options(render_nulls=True)
    rows = list(session.scalars(insert, values))
    mark_changed(session, user_id, [row.date for row in rows])
    names = account_names(session, (row.account_id for row in rows))
    ordered = sorted(rows, key=lambda r: r.id or 0)
    return [TransactionPublic.of(row, names[row.account_id]) for row in ordered]


def _owned(session: Session, user_id: str, txn_id: int) -> Transaction:
    row = session.exec(
        sa.select(Transaction).where(  # type: ignore[call-overload]
            col(Transaction.id) == txn_id, col(Transaction.user_id) == user_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(txn_id)
    return row  # type: ignore[no-any-return]


def update(
    session: Session, user_id: str, txn_id: int, patch: TransactionUpdate
) -> TransactionPublic:
    row = _owned(session, user_id, txn_id)
    was = row.date  # a new date moves the row to another month: both months change
    changes: dict[str, Any] = patch.model_dump(exclude_unset=True)
    currency = changes.get("currency", row.currency)
    if "amount" in changes:
        row.amount_minor = amount_to_minor(changes.pop("amount"), currency)
    elif currency != row.currency:
        _same_amount_in(row, currency)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    mark_changed(session, user_id, [was, row.date])
    return TransactionPublic.of(row, account_names(session, [row.account_id])[row.account_id])


def _same_amount_in(row: Transaction, currency: str) -> None:
    """A new currency alone keeps the stored minor units, so it must keep their meaning: USD to
    EUR does (both have cents), USD to JPY would turn -12.34 USD into -1234 JPY."""
    if currency_exponent(currency) != currency_exponent(row.currency):
        was = display(row.amount_minor, row.currency)
        would = display(row.amount_minor, currency)
        raise ValueError(
            f"changing the currency from {row.currency} to {currency} alone would change the "
            f"amount from {was} to {would}, because an amount's minor units depend on its "
            f"currency: send the amount in {currency} too, e.g. "
            f'{{"currency": "{currency}", "amount": "..."}}'
        )


def delete(session: Session, user_id: str, txn_id: int) -> None:
    deleted = session.execute(
        sa.delete(Transaction)
        .where(col(Transaction.id) == txn_id, col(Transaction.user_id) == user_id)
        .returning(col(Transaction.date))
    ).first()
    if deleted is None:
        raise NotFound(txn_id)
    mark_changed(session, user_id, [deleted[0]])


def _encode_cursor(row: Transaction) -> str:
    return base64.urlsafe_b64encode(f"{row.date.isoformat()}|{row.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.date, int]:
    try:
        day, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        position = dt.date.fromisoformat(day), int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not one this API returned") from exc
    # A forged id outside BIGINT would be a database error (500), not a bad cursor.
    if not -(2**63) <= position[1] < 2**63:
        raise ValueError("cursor is not one this API returned")
    return position


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_page(session: Session, user_id: str, f: TransactionFilter) -> TransactionPage:
    """Newest first, keyset-paginated on (date, id) so pages stay stable while rows change."""
    query = (
        sa.select(Transaction, col(Account.name))
        .join(Account, col(Account.id) == col(Transaction.account_id))
        .where(col(Transaction.user_id) == user_id)
    )
    if f.account is not None:
        query = query.where(col(Account.name) == f.account.strip())
    if f.date_from:
        query = query.where(col(Transaction.date) >= f.date_from)
    if f.date_to:
        query = query.where(col(Transaction.date) <= f.date_to)
    if f.category:
        query = query.where(col(Transaction.category) == f.category)
    if f.q:
        query = query.where(
            sa.func.lower(col(Transaction.description)).like(_like(f.q.lower()), escape="\\")
        )
    if f.cursor:
        day, ident = _decode_cursor(f.cursor)
        query = query.where(
            sa.or_(
                col(Transaction.date) < day,
                sa.and_(col(Transaction.date) == day, col(Transaction.id) < ident),
            )
        )
    query = query.order_by(col(Transaction.date).desc(), col(Transaction.id).desc())
    rows = [(row, str(name)) for row, name in session.execute(query.limit(f.limit + 1))]
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    return TransactionPage(
        items=[TransactionPublic.of(row, name) for row, name in rows],
        next_cursor=_encode_cursor(rows[-1][0]) if more and rows else None,
    )
