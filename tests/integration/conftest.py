"""Fixtures of the integration tests that call function handlers directly, on the embedded cloud."""

import pytest

from lambdas.shared import context
from smmu.fakes import InMemoryWorkflows
from smmu.repository import JobRepository, MediaRepository


@pytest.fixture
def stores(provisioned, aws):
    """The functions' adapters on the emulated DynamoDB (Step Functions in memory), installed for the handlers."""
    adapters = context.Adapters(
        jobs=JobRepository(provisioned.environment["SMMU_JOBS_TABLE"], aws("dynamodb")),
        media=MediaRepository(provisioned.environment["SMMU_MEDIA_TABLE"], aws("dynamodb")),
        workflows=InMemoryWorkflows(),
    )
    context.install(adapters)
    yield adapters
    context.install(None)
