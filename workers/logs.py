"""Structured JSON logs for workers (Powertools' Logger works outside Lambda too)."""

from functools import cache

from aws_lambda_powertools import Logger


@cache
def logger(worker: str) -> Logger:
    return Logger(service=f"smmu-{worker}-worker")
