"""Reconcile: runs on a schedule; settles jobs left QUEUED or RUNNING (see service.py)."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.reconcile.service import reconcile
from lambdas.shared.context import logger, settings


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A scheduled event carries no settings; an operator may pass grace_seconds to reconcile now.
    grace = int(event.get("grace_seconds", settings().reconcile_grace_seconds))
    report = reconcile(grace)
    logger.info("reconciled", checked=report.checked, restarted=len(report.restarted), failed=len(report.failed))
    return asdict(report)
