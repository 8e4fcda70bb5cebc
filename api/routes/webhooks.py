"""Webhook endpoints of the caller's tenant, and their deliveries."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status

from api.deps import CallerDep, DeliveriesDep, SettingsDep, WebhooksDep
from api.webhook_schemas import (
    DeliveryPage,
    DeliveryView,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookUpdate,
    WebhookView,
)
from smmu.jobs import now_iso
from smmu.settings import Settings
from smmu.ssrf import UnsafeUrlError, check_url, parse_networks
from smmu.webhook_store import WebhookRepository
from smmu.webhooks import WebhookEndpoint, new_secret, new_webhook_id

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "No credential, or one that is not valid"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such webhook"}}
UNSAFE: dict[int | str, dict[str, Any]] = {
    422: {"description": "Malformed request, or a URL that is not http(s) to a public address"}
}


def _checked(url: str, settings: Settings) -> str:
    try:
        check_url(url, allowed_networks=parse_networks(settings.webhook_allowed_networks))
    except UnsafeUrlError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"url: {exc}") from exc
    return url


def _owned(webhooks: WebhookRepository, webhook_id: str, tenant_id: str) -> WebhookEndpoint:
    endpoint = webhooks.get(webhook_id) if len(webhook_id) <= 64 else None
    # Another tenant's endpoint answers exactly as a missing one does.
    if endpoint is None or endpoint.tenant_id != tenant_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no webhook with id {webhook_id}")
    return endpoint


def _view(endpoint: WebhookEndpoint) -> WebhookView:
    return WebhookView.model_validate(endpoint.model_dump(exclude={"secret", "tenant_id"}))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses={409: {"description": "The tenant has as many endpoints as allowed"}, **UNSAFE, **UNAUTHORIZED},
)
def create_webhook(
    request: WebhookCreate, webhooks: WebhooksDep, settings: SettingsDep, caller: CallerDep
) -> WebhookCreated:
    """Register an endpoint. Deliveries are signed the Standard Webhooks way with the secret this answer shows
    (once); verify them with any Standard Webhooks library."""
    url = _checked(request.url, settings)
    if len(webhooks.list(caller.tenant_id)) >= settings.max_webhooks_per_tenant:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a tenant may register at most {settings.max_webhooks_per_tenant} webhooks"
        )
    now = now_iso()
    endpoint = WebhookEndpoint(
        webhook_id=new_webhook_id(),
        tenant_id=caller.tenant_id,
        url=url,
        events=list(request.events),
        description=request.description,
        secret=request.secret or new_secret(),
        created_at=now,
        updated_at=now,
    )
    webhooks.create(endpoint)
    return WebhookCreated(**_view(endpoint).model_dump(), secret=endpoint.secret)


@router.get("", response_model=WebhookList, responses=UNAUTHORIZED)
def list_webhooks(webhooks: WebhooksDep, caller: CallerDep) -> WebhookList:
    return WebhookList(items=[_view(e) for e in webhooks.list(caller.tenant_id)])


@router.get("/{webhook_id}", response_model=WebhookView, responses={**NOT_FOUND, **UNAUTHORIZED})
def get_webhook(webhook_id: str, webhooks: WebhooksDep, caller: CallerDep) -> WebhookView:
    return _view(_owned(webhooks, webhook_id, caller.tenant_id))


@router.patch("/{webhook_id}", response_model=WebhookView, responses={**NOT_FOUND, **UNSAFE, **UNAUTHORIZED})
def update_webhook(
    webhook_id: str, request: WebhookUpdate, webhooks: WebhooksDep, settings: SettingsDep, caller: CallerDep
) -> WebhookView:
    _owned(webhooks, webhook_id, caller.tenant_id)
    fields = request.model_dump(exclude_none=True)
    if request.url is not None:
        _checked(request.url, settings)
    if request.events is not None:
        fields["events"] = list(dict.fromkeys(request.events))
    updated = webhooks.update(webhook_id, fields) if fields else webhooks.get(webhook_id)
    if updated is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no webhook with id {webhook_id}")
    return _view(updated)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **UNAUTHORIZED})
def delete_webhook(webhook_id: str, webhooks: WebhooksDep, caller: CallerDep) -> Response:
    """Remove the endpoint; deliveries still pending for it end as failed."""
    _owned(webhooks, webhook_id, caller.tenant_id)
    webhooks.delete(webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses={400: {"description": "A cursor this API did not return"}, **NOT_FOUND, **UNAUTHORIZED},
)
def list_deliveries(
    webhook_id: str,
    webhooks: WebhooksDep,
    deliveries: DeliveriesDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first, each with its attempts (status code or error, duration)."""
    _owned(webhooks, webhook_id, caller.tenant_id)
    try:
        page, next_cursor = deliveries.list(webhook_id, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    return DeliveryPage(items=[DeliveryView.model_validate(d.model_dump()) for d in page], next_cursor=next_cursor)
