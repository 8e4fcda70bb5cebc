"""Step Functions adapter of the ``Workflows`` port: one execution per attempt of a job, named after the job id
(and the attempt, from the second on)."""

from typing import TYPE_CHECKING

from smmu.contracts import ExecutionInput
from smmu.jobs import execution_name

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class StepFunctionsWorkflows:
    def __init__(self, state_machine_arn: str, client: "SFNClient") -> None:
        self.state_machine_arn = state_machine_arn
        self._sfn = client

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name

    def start(self, execution: ExecutionInput) -> str | None:
        try:
            started = self._sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=execution_name(execution.job_id, execution.attempt),
                input=execution.model_dump_json(),
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return None
        return started["executionArn"]

    def status(self, name: str) -> str | None:
        try:
            return self._sfn.describe_execution(executionArn=self.execution_arn(name))["status"]
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None

    def stop(self, name: str, cause: str) -> bool:
        if self.status(name) != "RUNNING":
            return False
        try:
            self._sfn.stop_execution(executionArn=self.execution_arn(name), error="Cancelled", cause=cause[:32768])
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return False
        return True
