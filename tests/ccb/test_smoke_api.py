def test_lifecycle_smoke(api, submitted, people):
    r = api(people["bob"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert r.status_code == 201, r.json()
    r = api(people["carol"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert r.status_code == 201, r.json()
    r = api(people["alice"]).get(f"/api/v1/changes/{submitted.pk}/")
    assert r.json()["status"] == "approved"
