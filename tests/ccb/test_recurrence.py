"""Window occurrences follow RFC 5545 in the window's own zone (DESIGN, "Time rules, decided once")."""

from datetime import UTC, datetime, timedelta

import pytest

from ccb import recurrence
from ccb.models import MaintenanceWindow

LONDON = recurrence.zone("Europe/London")
NEW_YORK = recurrence.zone("America/New_York")


def occ(rule, dtstart, minutes=60, tz=LONDON, exdates=(), start=None, end=None):
    start = start or datetime(2020, 1, 1, tzinfo=UTC)
    end = end or datetime(2030, 1, 1, tzinfo=UTC)
    return list(
        recurrence.occurrences(
            dtstart=dtstart,
            duration=timedelta(minutes=minutes),
            tz=tz,
            rule_text=rule,
            exdates=exdates,
            start=start,
            end=end,
        )
    )


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_a_weekly_window_keeps_its_local_time_across_daylight_saving():
    # Sundays 00:30 London: GMT in winter (00:30 UTC), BST in summer (23:30 UTC the day before).
    found = occ("FREQ=WEEKLY;BYDAY=SU", datetime(2026, 3, 22, 0, 30), start=utc(2026, 3, 21), end=utc(2026, 4, 6))
    assert [s for s, _ in found] == [utc(2026, 3, 22, 0, 30), utc(2026, 3, 29, 0, 30), utc(2026, 4, 4, 23, 30)]


def test_an_occurrence_that_spans_the_spring_forward_lasts_its_exact_duration():
    # 00:30 GMT for three hours on the night the clocks go forward: it ends at 03:30 UTC, 04:30 BST.
    [(start, end)] = occ(
        "FREQ=WEEKLY;BYDAY=SU",
        datetime(2026, 3, 1, 0, 30),
        minutes=180,
        start=utc(2026, 3, 29),
        end=utc(2026, 3, 29, 12),
    )
    assert (start, end) == (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 3, 30))
    assert end.astimezone(LONDON).strftime("%H:%M %Z") == "04:30 BST"


def test_an_occurrence_that_spans_the_fall_back_lasts_its_exact_duration():
    [(start, end)] = occ(
        "FREQ=WEEKLY;BYDAY=SU",
        datetime(2026, 3, 1, 0, 30),
        minutes=180,
        start=utc(2026, 10, 24, 12),
        end=utc(2026, 10, 25, 12),
    )
    assert (start, end) == (utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 2, 30))
    assert end.astimezone(LONDON).strftime("%H:%M %Z") == "02:30 GMT"


def test_a_local_start_in_the_spring_gap_moves_forward_past_the_gap():
    # 01:30 does not exist in London on 29 March 2026: read with the pre-gap offset, it is 02:30 BST.
    found = occ("FREQ=WEEKLY;BYDAY=SU", datetime(2026, 3, 22, 1, 30), start=utc(2026, 3, 28), end=utc(2026, 3, 30))
    assert found == [(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30))]
    assert found[0][0].astimezone(LONDON).strftime("%H:%M %Z") == "02:30 BST"


def test_a_local_start_that_occurs_twice_means_the_first_instant():
    # 01:30 happens twice in London on 25 October 2026: first in BST (00:30 UTC), then in GMT.
    found = occ("FREQ=WEEKLY;BYDAY=SU", datetime(2026, 10, 18, 1, 30), start=utc(2026, 10, 24), end=utc(2026, 10, 26))
    assert [s for s, _ in found] == [utc(2026, 10, 25, 0, 30)]


def test_a_one_off_window_in_the_gap_follows_the_same_rule():
    found = occ("", datetime(2026, 3, 8, 2, 30), tz=NEW_YORK)  # 02:30 does not exist in New York that day
    assert found == [(utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 30))]  # 03:30 EDT


def test_the_last_day_of_every_month():
    found = occ(
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        datetime(2027, 11, 30, 22, 0),
        tz=recurrence.zone("UTC"),
        start=utc(2027, 11, 1),
        end=utc(2028, 5, 1),
    )
    assert [s.date().isoformat() for s, _ in found] == [
        "2027-11-30",
        "2027-12-31",
        "2028-01-31",
        "2028-02-29",
        "2028-03-31",
        "2028-04-30",
    ]


def test_day_31_skips_the_months_that_have_none():
    found = occ("FREQ=MONTHLY;BYMONTHDAY=31", datetime(2026, 1, 31, 22, 0), start=utc(2026, 1, 1), end=utc(2026, 8, 1))
    assert [s.month for s, _ in found] == [1, 3, 5, 7]


def test_the_last_friday_of_the_month_in_local_time():
    found = occ("FREQ=MONTHLY;BYDAY=-1FR", datetime(2026, 1, 30, 23, 0), start=utc(2026, 1, 1), end=utc(2026, 5, 1))
    assert [s.astimezone(LONDON).date().isoformat() for s, _ in found] == [
        "2026-01-30",
        "2026-02-27",
        "2026-03-27",
        "2026-04-24",
    ]


def test_exdate_removes_an_occurrence_without_refilling_count():
    rule, first = "FREQ=WEEKLY;BYDAY=TU;COUNT=4", datetime(2026, 12, 1, 22, 0)
    assert len(occ(rule, first)) == 4
    found = occ(rule, first, exdates=["2026-12-08T22:00"])
    assert [s.astimezone(LONDON).day for s, _ in found] == [1, 15, 22]  # no fifth Tuesday pulled in


def test_exdate_as_a_date_removes_that_day_and_an_unmatched_time_removes_nothing():
    rule, first = "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=6", datetime(2026, 12, 1, 22, 0)
    assert len(occ(rule, first, exdates=["2026-12-08T21:00"])) == 6
    found = occ(rule, first, exdates=["2026-12-08", "2026-12-10"])
    assert [s.astimezone(LONDON).day for s, _ in found] == [1, 3, 15, 17]


def test_until_given_in_utc_is_honoured_in_the_local_zone():
    # Sunday 23:30 in New York is 04:30 UTC in EST and 03:30 UTC once DST starts (8 March); UNTIL is inclusive.
    found = occ("FREQ=WEEKLY;BYDAY=SU;UNTIL=20260316T033000Z", datetime(2026, 3, 1, 23, 30), tz=NEW_YORK)
    assert [s for s, _ in found] == [utc(2026, 3, 2, 4, 30), utc(2026, 3, 9, 3, 30), utc(2026, 3, 16, 3, 30)]


def test_occurrences_are_those_overlapping_the_half_open_range():
    rule, first = "FREQ=DAILY", datetime(2026, 6, 1, 10, 0)
    tz = recurrence.zone("UTC")
    # [10:00, 11:00) neither overlaps a range that starts at 11:00 nor one that ends at 10:00.
    assert occ(rule, first, tz=tz, start=utc(2026, 6, 2, 11), end=utc(2026, 6, 3, 10)) == []
    assert occ(rule, first, tz=tz, start=utc(2026, 6, 2, 10, 59), end=utc(2026, 6, 3, 10, 1)) == [
        (utc(2026, 6, 2, 10), utc(2026, 6, 2, 11)),
        (utc(2026, 6, 3, 10), utc(2026, 6, 3, 11)),
    ]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("FREQ=MINUTELY", "FREQ must be one of"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20261231T000000Z", "not both"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "separate fields"),
        ("FREQ=WEEKLY;BYDAY=XX", "cannot be read"),
        ("FREQ=WEEKLY;FREQ=DAILY", "appears twice"),
        ("FREQ=DAILY;RDATE=20260101", "Unknown or empty"),
    ],
)
def test_rules_that_cannot_be_used_are_refused_with_a_reason(text, complaint):
    with pytest.raises(recurrence.RecurrenceError, match=complaint):
        recurrence.build_rule(text, datetime(2026, 1, 1), LONDON)


def test_a_rule_is_stored_in_canonical_form():
    assert recurrence.normalize_rrule(" rrule:freq=weekly;byday=su ") == "FREQ=WEEKLY;BYDAY=SU"


@pytest.mark.parametrize("name", ["Europe", "../etc/passwd", "", "europe/london", "Mars/Olympus"])
def test_only_iana_zones_are_accepted(name):
    with pytest.raises(recurrence.RecurrenceError, match="Unknown time zone"):
        recurrence.zone(name)


def test_exception_dates_are_local_and_normalised():
    assert recurrence.normalize_exdates(["2026-12-25", "2026-12-29T22:00:00", "2026-12-25"]) == [
        "2026-12-25",
        "2026-12-29T22:00",
    ]
    with pytest.raises(recurrence.RecurrenceError, match="without an offset"):
        recurrence.normalize_exdates(["2026-12-29T22:00:00+00:00"])
    with pytest.raises(recurrence.RecurrenceError, match="is not a date"):
        recurrence.normalize_exdates(["Christmas"])


def test_the_model_uses_the_same_rules(db):
    window = MaintenanceWindow(
        time_zone="Europe/London",
        start_date=datetime(2026, 3, 22).date(),
        start_time=datetime(2026, 3, 22, 1, 30).time(),
        duration_minutes=60,
        rrule="FREQ=WEEKLY;BYDAY=SU",
        exdates=["2026-04-05"],
    )
    assert [s for s, _ in window.occurrences(utc(2026, 3, 21), utc(2026, 4, 13))] == [
        utc(2026, 3, 22, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 4, 12, 0, 30),
    ]
