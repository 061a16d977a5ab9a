"""Uploads as resources: `GET /api/statements` and `DELETE /api/statements/{id}`."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Response, status

from api._http.deps import CurrentUser, QueueDep, SessionDep, SettingsDep
from api._http.kick import enqueue_and_kick
from core.writes.statement_records import (
    StatementNotFound,
    StatementPublic,
    delete_statement,
    list_statements,
)

router = APIRouter(prefix="/api/statements", tags=["statements"])

StatementId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]


@router.get("")
def get_statements(user: CurrentUser, session: SessionDep) -> list[StatementPublic]:
    """Your uploads, newest first: the file, its format, the rows it imported and skipped, the
    accounts they are filed under, and how many of its transactions are still stored."""
    return list_statements(session, user)


@router.delete("/{statement_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_statement(
    statement_id: StatementId,
    user: CurrentUser,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Response:
    """Delete exactly the transactions this upload imported (rows it skipped as duplicates stay
    with the upload that imported them). Repeating it changes nothing and answers 204 again."""
    try:
        removed = delete_statement(session, user, statement_id)
    except StatementNotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"statement {statement_id} not found"
        ) from None
    session.commit()
    if removed:
        enqueue_and_kick(background, queue, user, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
