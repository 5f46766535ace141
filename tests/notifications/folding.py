"""Checks on folded iCalendar text (RFC 5545 3.1) that a strict calendar client would make."""

import icalendar

# Long Cyrillic text full of the characters TEXT escapes: backslashes (alone and in pairs), commas,
# semicolons and line breaks, so folds land next to escapes and inside two-octet characters.
HOSTILE_TEXT = (
    "Обновление схемы \\\\ клиентской базы; откат: C:\\\\ccb\\\\rollback\\\\шаг-1, затем \\ проверка; "
    "контрольный список: первое, второе; третье\\\\\\\\четвёртое\n" + "Ж\\;Щ,\\,ю; " * 30 + "\\\\" * 40 + " конец"
)


def assert_folded_well(data: bytes) -> None:
    """Every physical line is at most 75 octets and whole UTF-8; no fold splits a backslash escape."""
    assert data.endswith(b"\r\n")
    physical = data[:-2].split(b"\r\n")
    for line in physical:
        assert len(line) <= 75, (len(line), line)
        line.decode("utf-8")  # a fold inside a multi-octet character would fail here
    logical: list[list[str]] = []
    for line in physical:
        if line.startswith((b" ", b"\t")):
            logical[-1].append(line[1:].decode())
        else:
            logical.append([line.decode()])
    for pieces in logical:
        text, folds, at = "".join(pieces), set(), 0
        for piece in pieces[:-1]:
            at += len(piece)
            folds.add(at)
        i, boundaries = 0, {0}
        while i < len(text):
            i += 2 if text[i] == "\\" else 1
            boundaries.add(i)
        assert folds <= boundaries, f"a fold splits an escape in {text!r}"


def unfolded_value(data: bytes, component: str, prop: str) -> str:
    (found,) = icalendar.Calendar.from_ical(data).walk(component)
    return str(found[prop])
