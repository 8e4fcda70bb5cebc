"""Reconcile: runs on a schedule; settles jobs left QUEUED or RUNNING (see service.py)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.reconcile.service import reconcile
from lambdas.shared.context import logger, settings
from lambdas.shared.step import typed_handler
from smmu.contracts import ReconcileReport, ReconcileRequest


@logger.inject_lambda_context
@typed_handler
def lambda_handler(event: ReconcileRequest, context: LambdaContext) -> ReconcileReport:
    # A scheduled event carries no settings; an operator may pass grace_seconds to reconcile now.
    grace = event.grace_seconds if event.grace_seconds is not None else settings().reconcile_grace_seconds
    abandoned = (
        event.abandoned_upload_seconds
        if event.abandoned_upload_seconds is not None
        else settings().abandoned_upload_seconds
    )
    config = settings()
    retention = (
        config.raw_retention_days if event.raw_retention_days is None else event.raw_retention_days,
        config.output_retention_days if event.output_retention_days is None else event.output_retention_days,
    )
    report = reconcile(grace, abandoned, retention)
    logger.info(
        "reconciled",
        checked=report.checked,
        restarted=len(report.restarted),
        failed=len(report.failed),
        aborted_uploads=len(report.aborted_uploads),
        expired_uploads=report.expired_uploads,
        expired_outputs=report.expired_outputs,
    )
    return report
