from collections.abc import Callable

from fastapi import APIRouter, Response, status

from api.deps import SettingsDep
from api.schemas import Health
from smmu import aws

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(settings: SettingsDep, response: Response) -> Health:
    """Ready when the jobs table and the upload bucket answer."""
    checks: dict[str, str] = {}
    probes: tuple[tuple[str, Callable[[], object]], ...] = (
        ("jobs_table", lambda: aws.client("dynamodb").describe_table(TableName=settings.jobs_table)),
        ("raw_bucket", lambda: aws.client("s3").head_bucket(Bucket=settings.raw_bucket)),
    )
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if healthy else "unavailable", checks=checks)
