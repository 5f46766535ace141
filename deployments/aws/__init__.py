"""ccb's only door to AWS: a session adapter built from boto3.Session, and one error type.

Nothing else in ccb imports boto3 or botocore. Step types get an ``Aws`` as ``ctx.aws`` and call
``ctx.aws.lambda_.get_alias(...)``; every call's request id reaches the ``on_call`` callback and every
failure is an ``AwsError``.
"""

from .errors import AwsError
from .session import Aws, AwsCall, Client, S3Object, SessionConfig, parse_s3_url

__all__ = ["Aws", "AwsCall", "AwsError", "Client", "S3Object", "SessionConfig", "parse_s3_url"]
