//! The New York calendar date of a UTC instant, without a time-zone database.
//!
//! The API stamps a daily bar at midnight America/New_York of the trading day, written in UTC
//! (`T05:00:00Z` in winter, `T04:00:00Z` in summer). Taking the UTC date happens to work for
//! those stamps, but only the New York date is right by definition, so we convert. The US
//! daylight-saving rules are short enough to write down, which saves a tz-database crate and its
//! data updates:
//!
//! | years | daylight time (UTC-4) from | until (back to UTC-5) |
//! |---|---|---|
//! | 2007 and later | second Sunday of March, 02:00 EST = 07:00 UTC | first Sunday of November, 02:00 EDT = 06:00 UTC |
//! | 1987 to 2006 | first Sunday of April, 07:00 UTC | last Sunday of October, 06:00 UTC |
//! | before 1987 | last Sunday of April, 07:00 UTC | last Sunday of October, 06:00 UTC |
//!
//! The last row is the 1967-1986 rule applied to every earlier year too (it ignores the
//! 1974-75 energy-crisis exceptions); no price source we read goes back that far.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

/// The America/New_York calendar date of `instant`.
///
/// # Example
/// ```
/// use chrono::{DateTime, NaiveDate};
/// // Midnight in New York, stamped in UTC: 05:00 in winter, 04:00 in summer.
/// let winter: DateTime<chrono::Utc> = "2024-01-02T05:00:00Z".parse()?;
/// let summer: DateTime<chrono::Utc> = "2024-07-01T04:00:00Z".parse()?;
/// assert_eq!(momentum_data::new_york_date(winter), NaiveDate::from_ymd_opt(2024, 1, 2).unwrap());
/// assert_eq!(momentum_data::new_york_date(summer), NaiveDate::from_ymd_opt(2024, 7, 1).unwrap());
/// // One hour earlier is still the previous day in New York.
/// let late: DateTime<chrono::Utc> = "2024-01-02T04:59:59Z".parse()?;
/// assert_eq!(momentum_data::new_york_date(late), NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
/// # Ok::<(), chrono::ParseError>(())
/// ```
pub fn new_york_date(instant: DateTime<Utc>) -> NaiveDate {
    let offset = if is_us_daylight_time(instant) { -4 } else { -5 };
    (instant + Duration::hours(offset)).date_naive()
}

/// Whether US Eastern daylight time is in force at `instant`.
pub fn is_us_daylight_time(instant: DateTime<Utc>) -> bool {
    let year = instant.year();
    let (start, end) = if year >= 2007 {
        (nth_sunday(year, 3, 2), nth_sunday(year, 11, 1))
    } else if year >= 1987 {
        (nth_sunday(year, 4, 1), last_sunday(year, 10))
    } else {
        (last_sunday(year, 4), last_sunday(year, 10))
    };
    let start = start.and_hms_opt(7, 0, 0).expect("valid time").and_utc();
    let end = end.and_hms_opt(6, 0, 0).expect("valid time").and_utc();
    instant >= start && instant < end
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n)
        .expect("every month has a first and second Sunday")
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next = NaiveDate::from_ymd_opt(year, month + 1, 1).expect("month < 12");
    let last = first_of_next.pred_opt().expect("not the first day ever");
    let back = last.weekday().num_days_from_sunday();
    last - Duration::days(i64::from(back))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn transition_days_match_published_calendars() {
        // 2025: DST from Sunday 9 March to Sunday 2 November; 2006: 2 April to 29 October;
        // 1990: 1 April to 28 October; 1986: 27 April to 26 October.
        assert_eq!(nth_sunday(2025, 3, 2), d("2025-03-09"));
        assert_eq!(nth_sunday(2025, 11, 1), d("2025-11-02"));
        assert_eq!(nth_sunday(2006, 4, 1), d("2006-04-02"));
        assert_eq!(last_sunday(2006, 10), d("2006-10-29"));
        assert_eq!(nth_sunday(1990, 4, 1), d("1990-04-01"));
        assert_eq!(last_sunday(1990, 10), d("1990-10-28"));
        assert_eq!(last_sunday(1986, 4), d("1986-04-27"));
    }

    #[test]
    fn switch_instants_are_exact() {
        assert!(!is_us_daylight_time(at("2025-03-09T06:59:59Z")));
        assert!(is_us_daylight_time(at("2025-03-09T07:00:00Z")));
        assert!(is_us_daylight_time(at("2025-11-02T05:59:59Z")));
        assert!(!is_us_daylight_time(at("2025-11-02T06:00:00Z")));
    }

    #[test]
    fn midnight_stamps_on_both_sides_of_a_change_give_their_own_day() {
        // The paginated fixture: Friday 7 March 2025 at EST midnight, Monday 10 March at EDT.
        assert_eq!(new_york_date(at("2025-03-07T05:00:00Z")), d("2025-03-07"));
        assert_eq!(new_york_date(at("2025-03-10T04:00:00Z")), d("2025-03-10"));
        // Autumn 2025 and the 1987-2006 rule (2006: DST ends 29 October).
        assert_eq!(new_york_date(at("2025-10-31T04:00:00Z")), d("2025-10-31"));
        assert_eq!(new_york_date(at("2025-11-03T05:00:00Z")), d("2025-11-03"));
        assert_eq!(new_york_date(at("2006-10-27T04:00:00Z")), d("2006-10-27"));
        assert_eq!(new_york_date(at("2006-10-30T05:00:00Z")), d("2006-10-30"));
        // 2006 March is still winter under the old rule: 04:00Z on 13 March is 23:00 on the 12th.
        assert_eq!(new_york_date(at("2006-03-13T04:00:00Z")), d("2006-03-12"));
        // A late-evening UTC instant is still the same New York day.
        assert_eq!(new_york_date(at("2025-06-02T23:30:00Z")), d("2025-06-02"));
        assert_eq!(new_york_date(at("2025-06-03T03:59:59Z")), d("2025-06-02"));
    }
}
