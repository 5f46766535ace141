"""A prototype of the audit.verify() changes suggested in the report, to measure them side by side.

Not ccb code and not used by ccb: it only shows what the suggestions buy. Same SQL batches and same checks
as ccb.audit.verify(), with two changes:
  1. ``at`` is formatted by PostgreSQL (to_char ... AT TIME ZONE 'UTC') and read as text, so no timestamptz
     is parsed by Django's pure-Python psycopg tz loader and no astimezone()/strftime() runs per row;
  2. strings are quoted with json.encoder.encode_basestring_ascii (what json.dumps(str) returns, minus the
     json.dumps()/JSONEncoder.encode() call overhead) and the actor id with str().
PostgreSQL only (SQLite would keep the existing path).
"""

import hashlib
from json.encoder import encode_basestring_ascii as quote

from django.db import connections, transaction

from ccb.audit import GENESIS_HASH, VerifyResult
from ccb.models import AuditEvent

_AT_UTC = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
_COLUMNS = f"seq, {_AT_UTC}, actor_id, actor_name, action, target_type, target_id, data, prev_hash, hash"


def verify_fast(*, using="default", batch_size=20_000):
    connection = connections[using]
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    expected_prev, expected_seq, checked, last = GENESIS_HASH, 1, 0, None
    sha256 = hashlib.sha256
    with transaction.atomic(using=using), connection.cursor() as cursor:
        after = 0
        while True:
            cursor.execute(f"SELECT {_COLUMNS} FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
                           [after, batch_size])
            rows = cursor.fetchall()
            if not rows:
                break
            for seq, at, actor_id, actor_name, action, target_type, target_id, data, prev_hash, hash_ in rows:
                reason = ""
                if seq != expected_seq:
                    reason = f"seq {expected_seq} is missing (next is {seq})"
                    seq = expected_seq
                elif prev_hash != expected_prev:
                    reason = "prev_hash does not match the previous event's hash"
                else:
                    body = (f'{{"action":{quote(action)},"actor":{"null" if actor_id is None else actor_id},'
                            f'"actor_name":{quote(actor_name)},"at":"{at}","data":{data},"seq":{seq},'
                            f'"target_id":{quote(target_id)},"target_type":{quote(target_type)}}}')
                    if sha256((prev_hash + body).encode()).hexdigest() != hash_:
                        reason = "hash does not match the event's content"
                if reason:
                    return VerifyResult(False, checked, last[0] if last else None, last[1] if last else None,
                                        first_bad_seq=seq, reason=reason)
                checked += 1
                expected_prev, expected_seq = hash_, seq + 1
                last = (seq, hash_)
            after = rows[-1][0]
    return VerifyResult(True, checked, last[0] if last else None, last[1] if last else None)
