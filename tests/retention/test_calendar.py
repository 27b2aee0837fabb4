"""Period boundaries in the policy's time zone: daylight-saving changes, ISO week 53, month and year ends."""

from __future__ import annotations

import pytest

from tests.retention.builders import backup, deleted, kept, policy
from worker.retention.rules import decide


class TestDaylightSaving:
    """Europe/Berlin: clocks go back on the last Sunday of October, forward on the last Sunday of March."""

    def test_the_repeated_hour_in_october_is_one_local_hour(self):
        """02:45 CEST and 02:15 CET, 30 min apart across the change, share the local hour 02."""
        items = [
            backup("cest-0150", "2026-10-24T23:50:00"),  # 01:50 CEST
            backup("cest-0245", "2026-10-25T00:45:00"),  # 02:45 CEST
            backup("cet-0215", "2026-10-25T01:15:00"),  # 02:15 CET, the second 02 o'clock
        ]
        decisions = decide(items, policy(hourly=2, timezone="Europe/Berlin"))
        assert kept(decisions) == {
            "cet-0215": ["hourly 2026-10-25T02"],
            "cest-0150": ["hourly 2026-10-25T01"],
        }
        assert deleted(decisions) == {"cest-0245": ["no rule"]}

    def test_the_same_backups_in_utc_are_three_hours(self):
        """In UTC the three backups fall in three different hours."""
        items = [
            backup("cest-0150", "2026-10-24T23:50:00"),
            backup("cest-0245", "2026-10-25T00:45:00"),
            backup("cet-0215", "2026-10-25T01:15:00"),
        ]
        assert set(kept(decide(items, policy(hourly=3)))) == {"cest-0150", "cest-0245", "cet-0215"}

    def test_the_skipped_hour_in_march_is_jumped(self):
        """01:45 CET and 03:15 CEST, 30 min apart across the change, are local hours 01 and 03."""
        items = [backup("cet", "2026-03-29T00:45:00"), backup("cest", "2026-03-29T01:15:00")]
        decisions = decide(items, policy(hourly=2, daily=2, timezone="Europe/Berlin"))
        assert kept(decisions) == {
            "cest": ["hourly 2026-03-29T03", "daily 2026-03-29"],
            "cet": ["hourly 2026-03-29T01"],
        }

    @pytest.mark.parametrize(
        ("late_utc", "local_day"),
        [("2026-11-20T23:30:00", "2026-11-21"), ("2026-07-14T22:30:00", "2026-07-15")],
        ids=["winter-00:30-CET", "summer-00:30-CEST"],
    )
    def test_a_backup_after_local_midnight_belongs_to_the_next_day(self, late_utc, local_day):
        """00:30 local is the next day in Berlin although it is the day before in UTC."""
        earlier_same_utc_day = late_utc[:11] + "12:00:00"
        items = [backup("late", late_utc), backup("noon", earlier_same_utc_day)]
        berlin = decide(items, policy(daily=2, timezone="Europe/Berlin"))
        assert kept(berlin) == {"late": [f"daily {local_day}"], "noon": [f"daily {late_utc[:10]}"]}
        utc = decide(items, policy(daily=2))
        assert kept(utc) == {"late": [f"daily {late_utc[:10]}"]}

    def test_local_time_moves_week_month_and_year_boundaries(self):
        """23:30 UTC on a Sunday, a month's last day or New Year's Eve is already the next period in Berlin."""
        items = [backup("sun", "2026-11-22T23:30:00"), backup("jan31", "2026-01-31T23:30:00")]
        items.append(backup("nye", "2026-12-31T23:30:00"))
        assert kept(decide(items, policy(weekly=5, monthly=5, yearly=5, timezone="Europe/Berlin"))) == {
            "nye": ["weekly 2026-W53", "monthly 2027-01", "yearly 2027"],
            "sun": ["weekly 2026-W48", "monthly 2026-11", "yearly 2026"],
            "jan31": ["weekly 2026-W05", "monthly 2026-02"],
        }
        assert kept(decide(items, policy(weekly=5, monthly=5, yearly=5))) == {
            "nye": ["weekly 2026-W53", "monthly 2026-12", "yearly 2026"],
            "sun": ["weekly 2026-W47", "monthly 2026-11"],
            "jan31": ["weekly 2026-W05", "monthly 2026-01"],
        }


class TestIsoWeek53:
    """ISO weeks: 2026-W53 runs Dec 28 2026 - Jan 3 2027, 2020-W53 Dec 28 2020 - Jan 3 2021."""

    def test_2026_w53_spans_the_new_year(self):
        """Dec 28 and Jan 3 share 2026-W53; Jan 4 opens 2027-W01; yearly still splits at Jan 1."""
        items = [
            backup("dec28", "2026-12-28T08:00:00"),
            backup("jan03", "2027-01-03T08:00:00"),
            backup("jan04", "2027-01-04T08:00:00"),
        ]
        assert kept(decide(items, policy(weekly=2))) == {
            "jan04": ["weekly 2027-W01"],
            "jan03": ["weekly 2026-W53"],
        }
        assert kept(decide(items, policy(yearly=2))) == {
            "jan04": ["yearly 2027"],
            "dec28": ["yearly 2026"],
        }

    def test_2020_w53(self):
        """Jan 1 2021 is in 2020-W53 and Dec 27 2020 in 2020-W52."""
        items = [
            backup("dec27", "2020-12-27T08:00:00"),
            backup("dec28", "2020-12-28T08:00:00"),
            backup("jan01", "2021-01-01T08:00:00"),
        ]
        assert kept(decide(items, policy(weekly=3))) == {
            "jan01": ["weekly 2020-W53"],
            "dec27": ["weekly 2020-W52"],
        }


class TestMonthEnds:
    """Monthly periods follow calendar months of any length."""

    def test_monthly_keeps_the_last_backup_of_each_month(self):
        """Jan 31, Feb 28 and Feb 29 (leap year) each close their month."""
        items = [
            backup("jan30", "2028-01-30T08:00:00"),
            backup("jan31", "2028-01-31T23:59:59"),
            backup("feb28", "2028-02-28T08:00:00"),
            backup("feb29", "2028-02-29T08:00:00"),
            backup("mar01", "2028-03-01T00:00:00"),
        ]
        assert kept(decide(items, policy(monthly=3))) == {
            "mar01": ["monthly 2028-03"],
            "feb29": ["monthly 2028-02"],
            "jan31": ["monthly 2028-01"],
        }

    def test_months_without_backups_are_skipped(self):
        """`monthly: 2` reaches back past empty months to the second month that has a backup."""
        items = [backup("jun", "2026-06-10T08:00:00"), backup("jan", "2026-01-10T08:00:00")]
        assert set(kept(decide(items, policy(monthly=2)))) == {"jun", "jan"}
