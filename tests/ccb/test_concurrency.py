"""Many people acting on one change at once, on PostgreSQL with a connection per thread."""

import threading
from collections import Counter

import pytest
from django.db import connection

from ccb import audit
from ccb.models import Decision, Vote


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_threads_voting_and_deciding_at_once(api, submitted, people):
    members = ["bob", "carol", "dave", "erin"]
    tokens = {}
    jobs = []
    for i in range(50):
        if i % 10 == 9:
            jobs.append(
                (
                    "erin",
                    f"/api/v1/changes/{submitted.pk}/decide/",
                    {"outcome": "approved", "rationale": f"chair decision {i}"},
                )
            )
        elif i % 10 == 8:
            jobs.append((members[i % 4], f"/api/v1/changes/{submitted.pk}/review/", {}))
        else:
            jobs.append(
                (
                    members[i % 4],
                    f"/api/v1/changes/{submitted.pk}/votes/",
                    {"decision": "approve" if i % 3 else "reject", "comment": f"vote {i}"},
                )
            )
    for name in members:
        tokens[name] = api(people[name])  # create tokens before the threads start
    barrier = threading.Barrier(len(jobs))
    results: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def run(name, url, body):
        try:
            client = api(people[name])
            barrier.wait()
            response = client.post(url, body, format="json")
            with lock:
                results.append((url.rsplit("/", 2)[-2], response.status_code, response.content.decode()[:200]))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(results) == 50
    assert not [r for r in results if r[1] >= 500], results
    assert {code for _, code, _ in results} <= {200, 201, 409}
    per_member = Counter(Vote.objects.filter(change=submitted).values_list("voter__username", flat=True))
    # Whoever wins the race decides: votes that land first count once each; once decided, the rest get 409.
    assert max(per_member.values(), default=0) <= 1
    assert Decision.objects.filter(change=submitted).count() == 1
    submitted.refresh_from_db()
    assert submitted.status in {"approved", "rejected", "approved_with_conditions"}
    assert Counter(code for kind, code, _ in results if kind == "votes")[201] == len(per_member)
    assert audit.verify().ok
