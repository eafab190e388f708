"""The Python baseline of scripts/bench-lambda: the dispatcher's idle tick written as a Python team would write it
(boto3, the client built at init, one Query of the timers index), run under AWS's Python runtime interface client
(awslambdaric) exactly as the Rust functions run under the fake Runtime API. Not product code."""

import os
from datetime import datetime, timezone

import boto3

TABLE = os.environ["FSCHED_TABLE"]
dynamodb = boto3.client("dynamodb")


def handler(event, context):
    upto = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "~"
    due = dynamodb.query(
        TableName=TABLE,
        IndexName="timers",
        KeyConditionExpression="#p = :p AND #s <= :upto",
        ExpressionAttributeNames={"#p": "timer_pk", "#s": "timer_sk"},
        ExpressionAttributeValues={":p": {"S": "DUE"}, ":upto": {"S": upto}},
    )
    return {"due": len(due["Items"])}
