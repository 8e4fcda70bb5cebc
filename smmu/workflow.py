"""Step Functions adapter of the ``Workflows`` port: one execution per job, named after the job id."""

from typing import TYPE_CHECKING

from smmu.contracts import ExecutionInput

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class StepFunctionsWorkflows:
    def __init__(self, state_machine_arn: str, client: "SFNClient") -> None:
        self.state_machine_arn = state_machine_arn
        self._sfn = client

    def execution_arn(self, job_id: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + job_id

    def start(self, execution: ExecutionInput) -> str | None:
        try:
            started = self._sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=execution.job_id, input=execution.model_dump_json()
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return None
        return started["executionArn"]

    def status(self, job_id: str) -> str | None:
        try:
            return self._sfn.describe_execution(executionArn=self.execution_arn(job_id))["status"]
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None
