"""The `Idempotency-Key` header on the creating POSTs: parse it, replay or refuse, remember.

The contract is `core.writes.idempotency`'s; here it becomes HTTP: a malformed key is 400, a
repeat while the first request runs is 409 (with `Retry-After`), the key with another request
is 422, and a replay is the first answer's status and bytes with `Idempotent-Replayed: true`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlmodel import Session

from core.writes import idempotency

KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            'A key of your choosing (a string such as "8e03978e-40d5-43e8-bc93-6894a57f9324"),'
            " so that a retry of this request answers the first answer instead of writing"
            " again; kept 24 hours, per user"
        ),
    ),
]

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "a malformed Idempotency-Key"},
    409: {"description": "a request with this Idempotency-Key is still running; retry later"},
}


@dataclass(frozen=True, slots=True)
class Keyed:
    user_id: str
    key: str
    fingerprint: str


def start(
    session: Session, user_id: str, header: str | None, request: Request, parts: list[bytes]
) -> tuple[Keyed | None, Response | None]:
    """(the key to remember the answer under, or None), and the first answer when a replay."""
    if header is None:
        return None, None
    try:
        key = idempotency.parse_key(header)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    fingerprint = idempotency.request_hash(request.method, request.url.path, parts)
    try:
        stored = idempotency.claim(session, user_id, key, fingerprint)
    except idempotency.KeyInFlight:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "a request with this Idempotency-Key is still being processed; retry shortly",
            headers={"Retry-After": "1"},
        ) from None
    except idempotency.KeyReused:
        session.rollback()
        raise HTTPException(
            422,
            "this Idempotency-Key was already used for a different request; use a new key",
        ) from None
    if stored is None:
        return Keyed(user_id, key, fingerprint), None
    session.rollback()  # nothing to write: release the lock at once
    return None, Response(
        content=stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def answer(session: Session, keyed: Keyed | None, value: Any, status_code: int) -> JSONResponse:
    """`value` as the JSON answer, remembered under the key (in the caller's transaction)."""
    response = JSONResponse(content=jsonable_encoder(value), status_code=status_code)
    if keyed is not None:
        body = bytes(response.body).decode()
        idempotency.remember(
            session, keyed.user_id, keyed.key, keyed.fingerprint, status_code, body
        )
    return response
