"""SQS event source mappings in the embedded cloud behave like Lambda's: batches, partial failures, redrive."""

import json
import textwrap
import time
import uuid

import pytest

from smmu_stack.packaging import zip_bytes

pytestmark = pytest.mark.integration

RECORDER = textwrap.dedent(
    """
    import json, os, boto3

    def lambda_handler(event, context):
        s3 = boto3.client("s3")
        failures = []
        for record in event["Records"]:
            receive = record["attributes"]["ApproximateReceiveCount"]
            s3.put_object(Bucket=os.environ["BUCKET"], Key=f"{record['body']}/{receive}",
                          Body=json.dumps({"batch": len(event["Records"])}))
            if record["body"].startswith("fail"):
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}
    """
)


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_partial_batch_failures_are_redelivered_then_dead_lettered(aws, cloud, provisioned):
    suffix = uuid.uuid4().hex[:8]
    sqs, s3 = aws("sqs"), aws("s3")
    bucket = f"recorder-{suffix}"
    s3.create_bucket(Bucket=bucket)
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"src-{suffix}",
        Attributes={
            # Longer than an invocation (the function is warmed below), or a slow one would be redelivered while it
            # runs, as on AWS; short, since the failure's redelivery waits for it.
            "VisibilityTimeout": "5",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = aws("iam").get_role(RoleName="smmu-lambda-execution")["Role"]["Arn"]
    function = f"recorder-{suffix}"
    aws("lambda").create_function(
        FunctionName=function,
        Runtime="python3.11",
        Role=role,
        Handler="recorder.lambda_handler",
        Timeout=10,
        Code={"ZipFile": zip_bytes([], {"recorder.py": RECORDER})},
        Environment={"Variables": {"BUCKET": bucket}},
    )
    # Warm: on a loaded machine a cold start alone could outlast the visibility timeout.
    aws("lambda").invoke(FunctionName=function, Payload=json.dumps({"Records": []}))
    # Messages are waiting before the mapping exists, so the first poll sees them together.
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(["ok-1", "fail", "ok-2"])],
    )
    aws("lambda").create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=queue_arn,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    cloud.start_event_sources()

    def keys():
        return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}

    def dead_lettered():
        return int(
            sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )

    assert _wait_for(lambda: dead_lettered() == 1), keys()
    seen = keys()
    # Successes were delivered once and deleted; the failure was retried until maxReceiveCount.
    assert {"ok-1/1", "ok-2/1", "fail/1", "fail/2"} == seen
    first_batch = json.loads(s3.get_object(Bucket=bucket, Key="ok-1/1")["Body"].read())["batch"]
    assert first_batch == 3
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == "fail"
    remaining = sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    assert all(v == "0" for v in remaining["Attributes"].values())
