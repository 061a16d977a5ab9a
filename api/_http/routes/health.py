from fastapi import APIRouter, Response, status

from api._http.errors import RETRY_AFTER
from core.operator.health import Health, health

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=Health)
def get_health(response: Response) -> Health:
    """Database and queue reachability; 503 naming what is down."""
    result = health()
    if result.status != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers.update(RETRY_AFTER)
    return result
