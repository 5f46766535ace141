"""Which runbook version a change or a standard template runs, and what ccb may know of it."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from ccb.exceptions import PacketInvalid
from ccb.execution import RunbookRef

from . import documents
from .models import ChangeRunbook, RunbookVersion, TemplateRunbook

_CACHE = "_ccb_runbook_ref"


def planned_minutes(version: RunbookVersion) -> int:
    return version.estimated_minutes


def ref(version: RunbookVersion) -> RunbookRef:
    runbook = version.runbook
    return RunbookRef(
        version_id=version.pk,
        runbook_id=runbook.pk,
        name=runbook.name,
        number=version.number,
        board_id=runbook.board_id,
        author_id=version.created_by_id,
        content_hash=version.content_hash,
        computed_hash=version.computed_hash(),
        approved=version.approved_at is not None,
        approved_by=version.approved_by.get_username() if version.approved_by_id else "",
        needs_review=documents.needs_review(version.document),
        planned_minutes=planned_minutes(version),
        url=reverse("runbook-page", args=[runbook.pk]) + f"?version={version.number}",
    )


def version_of(change: Any) -> RunbookVersion | None:
    """The version itself, for the engine."""
    link = (
        ChangeRunbook.objects.select_related("version__runbook", "version__approved_by")
        .filter(change_id=change.pk)
        .first()
    )
    return link.version if link else None


def runbook_of(*, change: Any) -> RunbookRef | None:
    if hasattr(change, _CACHE):
        return getattr(change, _CACHE)
    link = (
        ChangeRunbook.objects.select_related("version__runbook", "version__approved_by")
        .filter(change_id=change.pk)
        .first()
    )
    value = ref(link.version) if link else None
    setattr(change, _CACHE, value)
    return value


def _version(version_id: int) -> RunbookVersion:
    version = RunbookVersion.objects.select_related("runbook__board").filter(pk=version_id).first()
    if version is None:
        raise PacketInvalid({"runbook_version": [f"There is no runbook version {version_id}."]})
    return version


def link_problem(change: Any, version: RunbookVersion, actor: Any) -> str:
    """Why this change may not run this version, or ''.

    A change runs one of its own board's runbooks: a version the board approved, or a draft the person
    filing it wrote (so they can link their own work before it is reviewed). Anything else would let a
    requester borrow, and then read, a runbook that is not theirs to see.
    """
    runbook = version.runbook
    if runbook.board_id != change.board_id:
        return f"{runbook.name} v{version.number} is a runbook of {runbook.board}, not of {change.board}."
    if version.approved_at is None and version.created_by_id != actor.pk:
        return (
            f"{runbook.name} v{version.number} is not approved yet; link an approved version of "
            f"{change.board}'s runbooks, or a draft of your own."
        )
    return ""


def link_runbook(*, change: Any, version_id: int | None, actor: Any, trusted: bool = False) -> None:
    if hasattr(change, _CACHE):
        delattr(change, _CACHE)
    if version_id is None:
        ChangeRunbook.objects.filter(change_id=change.pk).delete()
        return
    version = _version(version_id)
    problem = "" if trusted else link_problem(change, version, actor)
    if problem:
        raise PacketInvalid({"runbook_version": [problem]})
    ChangeRunbook.objects.update_or_create(change_id=change.pk, defaults={"version": version, "linked_by": actor})


def template_runbook(*, template: Any) -> RunbookRef | None:
    if hasattr(template, _CACHE):
        return getattr(template, _CACHE)
    link = (
        TemplateRunbook.objects.select_related("version__runbook", "version__approved_by")
        .filter(template_id=template.pk)
        .first()
    )
    value = ref(link.version) if link else None
    setattr(template, _CACHE, value)
    return value


def preload_runbooks(*, objects: list[Any]) -> None:
    """Fill the runbook cache of many changes or templates (all of one kind) with one query."""
    first = objects[0]
    model, key = (
        (TemplateRunbook, "template_id")
        if first._meta.model_name == "standardchangetemplate"
        else (ChangeRunbook, "change_id")
    )
    found = {
        getattr(link, key): ref(link.version)
        for link in model.objects.select_related("version__runbook", "version__approved_by").filter(
            **{f"{key}__in": [o.pk for o in objects]}
        )
    }
    for obj in objects:
        setattr(obj, _CACHE, found.get(obj.pk))


def link_template_runbook(*, template: Any, version_id: int, actor: Any) -> None:
    version = _version(version_id)
    if version.runbook.board_id != template.board_id:
        raise PacketInvalid(
            {"runbook_version": [f"The runbook belongs to {version.runbook.board}, not {template.board}."]}
        )
    if version.approved_at is None:
        raise PacketInvalid({"runbook_version": ["A template must run an approved runbook version."]})
    TemplateRunbook.objects.update_or_create(template_id=template.pk, defaults={"version": version})


def runbook_choices(*, board_id: int | None, user: Any, current_id: int | None = None) -> list[RunbookRef]:
    from .selectors import runbook_versions_for_filing

    versions = list(runbook_versions_for_filing(user=user, board_id=board_id))
    if current_id and all(v.pk != current_id for v in versions):
        versions += list(RunbookVersion.objects.select_related("runbook").filter(pk=current_id))
    return [ref(v) for v in versions]
