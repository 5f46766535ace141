"""Upload checks: the type is read from the content, never trusted from the name or the client."""

from pathlib import PurePath

import filetype
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

ALLOWED_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def inspect_upload(upload: UploadedFile, errors: dict[str, list[str]]) -> str:
    """The detected MIME type; adds a message to ``errors['file']`` when the file is refused."""
    limit = settings.CCB_ATTACHMENT_MAX_BYTES
    size = upload.size or 0
    if size > limit:
        errors["file"] = [f"The file is {size:,} bytes; the limit is {limit:,} bytes."]
        return ""
    if size == 0:
        errors["file"] = ["The file is empty."]
        return ""
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        found = kind.mime if kind else "an unrecognised format"
        errors["file"] = [f"The file's content is {found}; upload a PDF, PNG or JPEG."]
        return ""
    return kind.mime


def download_name(original_name: str, content_type: str) -> str:
    """The name a download is offered under: the uploader's stem with the extension of the type ccb read
    from the content, so bytes that are a PDF never arrive as ``evil.html``."""
    stem = PurePath(original_name.replace("\\", "/")).stem.strip(" .") or "attachment"
    extension = ALLOWED_TYPES.get(content_type)
    return f"{stem}.{extension}" if extension else stem
