"""ccb's only door to AWS: a session adapter built from boto3.Session, and one error type.

Nothing else in ccb imports boto3 or botocore. What the engine does with it, per run:

    config = SessionConfig.for_run(
        region="eu-west-1",
        role_arn=document["deploy_role"].get(environment, ""),  # empty: the worker's own credentials
        change_reference=change.reference, run_id=run.pk, started_by=run.started_by.username,
    )                                  # session tags ChangeReference, RunId, StartedBy; source identity
    aws = Aws(config, on_call=record)  # record(AwsCall(service, operation, request_id, http_status, error_code))
    aws.on_call = record_for_step      # may be rebound before each step call; clients are kept

and passes ``aws`` to every step call as ``ctx.aws``. Step types call ``ctx.aws.lambda_.get_alias(...)``
(``cloudformation``, ``lambda_``, ``elbv2``, ``ecs``, ``cloudwatch``, ``s3``, ``sts``, or
``ctx.aws.client(name)``); every call's request id reaches ``on_call``, errors included, and every
failure is an ``AwsError`` (service, operation, code, message, request id, ``transient``). A step method
lets an ``AwsError`` it does not expect propagate: the engine may retry a ``transient`` one later and
fails the step on any other, keeping ``err.as_dict()``.

``SessionConfig.endpoint_url`` None means ``settings.AWS_ENDPOINT_URL`` (empty: real AWS);
``max_attempts`` counts botocore's attempts per call, the first included (tests use 1).
"""

from .errors import AwsError
from .session import Aws, AwsCall, Client, S3Object, SessionConfig, parse_s3_url

__all__ = ["Aws", "AwsCall", "AwsError", "Client", "S3Object", "SessionConfig", "parse_s3_url"]
