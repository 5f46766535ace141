"""A download is named after what its bytes are, never after what the uploader called it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ..conftest import PDF

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


@pytest.mark.parametrize(
    ("name", "payload", "offered"),
    [
        ("evil.html", PDF, "evil.pdf"),
        ("photo.jpeg", PNG, "photo.png"),
        ("report", PDF, "report.pdf"),
        ("minutes.final.exe", PDF, "minutes.final.pdf"),
    ],
)
def test_a_download_is_named_after_the_type_read_from_its_bytes(api, people, make_change, name, payload, offered):
    change = make_change(report=False)
    alice = api(people["alice"])
    upload = SimpleUploadedFile(name, payload, content_type="text/html")
    created = alice.post(
        f"/api/v1/changes/{change.pk}/attachments/", {"file": upload, "kind": "evidence"}, format="multipart"
    )
    assert created.status_code == 201, created.content
    assert created.json()["original_name"] == name  # the record keeps what was uploaded
    download = alice.get(f"/api/v1/changes/{change.pk}/attachments/{created.json()['id']}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{offered}"'
    assert download["Content-Type"] == created.json()["content_type"]


@pytest.mark.parametrize(
    ("name", "offered"),
    [("..\\..\\evil.html", "evil.pdf"), ("", "attachment.pdf"), (".pdf", "pdf.pdf"), ("a.b.", "a.b.pdf")],
)
def test_odd_names_keep_a_stem_and_get_the_detected_extension(name, offered):
    from ccb.services.uploads import download_name

    assert download_name(name, "application/pdf") == offered
