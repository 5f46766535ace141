"""Window occurrences follow RFC 5545 in the window's own zone (DESIGN, "Time rules, decided once")."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr

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
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY takes weekdays"),
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


# --- RFC 5545 3.3.10: every part's value range, checked when the rule is saved ---------------------
# Cases after the RFC's own examples and the suites of dateutil (test_rrule.py), libical
# (icalrecur tests) and icalendar (test_prop_vRecur): each refusal names the part that is wrong.

REFUSED = [
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
    ("FREQ=DAILY;INTERVAL=-1", "INTERVAL"),
    ("FREQ=DAILY;INTERVAL=1.5", "INTERVAL"),
    ("FREQ=DAILY;INTERVAL=1001", "INTERVAL"),
    ("FREQ=DAILY;COUNT=0", "COUNT"),
    ("FREQ=DAILY;COUNT=-1", "COUNT"),
    ("FREQ=DAILY;COUNT=three", "COUNT"),
    ("FREQ=DAILY;UNTIL=19990101T000000", "UNTIL"),  # floating, on a zoned start
    ("FREQ=DAILY;UNTIL=19990101", "UNTIL"),  # a date, on a date-time start
    ("FREQ=DAILY;UNTIL=20261340T000000Z", "UNTIL"),
    ("FREQ=DAILY;BYSECOND=61", "BYSECOND"),
    ("FREQ=DAILY;BYSECOND=60", "BYSECOND"),
    ("FREQ=DAILY;BYMINUTE=60", "BYMINUTE"),
    ("FREQ=DAILY;BYMINUTE=-5", "BYMINUTE"),
    ("FREQ=DAILY;BYHOUR=24", "BYHOUR"),
    ("FREQ=DAILY;BYHOUR=+3", "BYHOUR"),
    ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
    ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY"),
    ("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,,2", "BYMONTHDAY"),
    ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY"),
    ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY"),
    ("FREQ=YEARLY;BYYEARDAY=0", "BYYEARDAY"),
    ("FREQ=MONTHLY;BYYEARDAY=1", "BYYEARDAY"),
    ("FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY"),
    ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO"),
    ("FREQ=YEARLY;BYWEEKNO=-54", "BYWEEKNO"),
    ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO"),
    ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
    ("FREQ=YEARLY;BYMONTH=0", "BYMONTH"),
    ("FREQ=YEARLY;BYMONTH=-1", "BYMONTH"),
    ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=367", "BYSETPOS"),
    ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS"),
    ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS"),
    ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
    ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY"),  # ordinals only with MONTHLY or YEARLY
    ("FREQ=DAILY;BYDAY=-1FR", "BYDAY"),
    ("FREQ=MONTHLY;BYDAY=0MO", "BYDAY"),
    ("FREQ=MONTHLY;BYDAY=6MO", "BYDAY"),
    ("FREQ=YEARLY;BYDAY=54MO", "BYDAY"),
    ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", "BYDAY"),
    ("FREQ=WEEKLY;WKST=XX", "WKST"),
    ("FREQ=WEEKLY;WKST=1MO", "WKST"),
    ("FREQ=MINUTELY", "FREQ"),
    ("INTERVAL=2", "FREQ"),
]


@pytest.mark.parametrize(("text", "part"), REFUSED)
def test_every_part_out_of_its_range_is_refused_naming_the_part(text, part):
    with pytest.raises(recurrence.RecurrenceError) as refused:
        recurrence.normalize_rrule(text)
    assert part in str(refused.value)


ACCEPTED = [  # RFC 5545 3.8.5.3 examples and their like, in their own terms
    "FREQ=DAILY;COUNT=10",
    "FREQ=DAILY;UNTIL=19971224T000000Z",
    "FREQ=DAILY;INTERVAL=2",
    "FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
    "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH",
    "FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
    "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
    "FREQ=MONTHLY;BYMONTHDAY=-3",
    "FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15",
    "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
    "FREQ=YEARLY;BYDAY=20MO",
    "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
    "FREQ=YEARLY;BYWEEKNO=-1;BYDAY=MO",
    "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
    "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
    "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
    "FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z",
    "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
    "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
    "FREQ=HOURLY;BYYEARDAY=-1;BYSECOND=0,59",
    "FREQ=MONTHLY;BYMONTHDAY=+31,-31",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_rules_within_the_ranges_are_accepted(text):
    assert recurrence.normalize_rrule(text) == text
    recurrence.build_rule(text, datetime(1997, 9, 2, 9, 0), recurrence.zone("America/New_York"))


def test_an_ordinal_weekday_counts_within_the_month():
    found = occ("FREQ=MONTHLY;BYDAY=2TU,-1FR", datetime(2026, 1, 1, 22, 0), start=utc(2026, 1, 1), end=utc(2026, 3, 1))
    assert [s.date().isoformat() for s, _ in found] == ["2026-01-13", "2026-01-30", "2026-02-10", "2026-02-27"]


# --- every expansion is bounded ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",  # never matches: dateutil alone searches until the year 9999
        "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20990101T000000Z",
        "FREQ=DAILY;INTERVAL=0",  # stored before the checks existed: dateutil alone never returns
    ],
)
def test_no_rule_can_stall_an_expansion(text):
    budget = recurrence.Budget()
    started = time.monotonic()
    if "INTERVAL=0" in text:  # refused now; expanding it as stored is refused too, at once
        with pytest.raises(recurrence.RecurrenceError, match="INTERVAL"):
            list(
                recurrence.occurrences(
                    dtstart=datetime(2020, 1, 1),
                    duration=timedelta(hours=1),
                    tz=LONDON,
                    rule_text=text,
                    exdates=[],
                    start=utc(2026, 1, 1),
                    end=utc(2027, 1, 1),
                )
            )
    else:
        assert occ(text, datetime(2020, 1, 1), start=utc(2026, 1, 1), end=utc(2027, 1, 1)) == []
        assert (
            list(
                recurrence.occurrences(
                    dtstart=datetime(2020, 1, 1),
                    duration=timedelta(hours=1),
                    tz=LONDON,
                    rule_text=text,
                    exdates=[],
                    start=utc(2026, 1, 1),
                    end=utc(2027, 1, 1),
                    budget=budget,
                )
            )
            == []
            and budget.exhausted
        )
    assert time.monotonic() - started < 2 * recurrence.MAX_EXPANSION_SECONDS + 0.5


def test_a_step_budget_cuts_a_long_expansion_short():
    budget = recurrence.Budget(steps=10)
    found = list(
        recurrence.occurrences(
            dtstart=datetime(2026, 1, 1, 9),
            duration=timedelta(hours=1),
            tz=LONDON,
            rule_text="FREQ=DAILY",
            exdates=[],
            start=utc(2026, 1, 1),
            end=utc(2027, 1, 1),
            budget=budget,
        )
    )
    assert 0 < len(found) < 10 and budget.exhausted


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=HOURLY",
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=HOURLY;INTERVAL=3;BYHOUR=1,7,22",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=15",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR;BYSETPOS=-1",
        "FREQ=MONTHLY;INTERVAL=5",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=YEARLY;INTERVAL=3;BYMONTH=3",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
    ],
)
def test_an_old_window_is_expanded_from_near_the_range_with_the_same_occurrences(text):
    # Years of occurrences lie between the first start and the range asked for; starting the rule near
    # the range must give exactly what dateutil gives from the first start.
    first, lo = datetime(2011, 5, 17, 13, 45), datetime(2026, 11, 3, 7, 0)
    hi = lo + timedelta(days=40 if text.startswith("FREQ=HOURLY") else 5 * 366)
    expected = rrulestr(text, dtstart=first).between(lo, hi, inc=True)
    budget = recurrence.Budget(steps=10_000, seconds=5)
    rule = recurrence.build_rule(text, first, recurrence.zone("UTC"), budget, not_before=lo)
    assert [w for w in rule.between(lo, hi, inc=True)] == expected and expected
    assert not budget.exhausted
