//! Clock formatting: the `Date` header (RFC 9110 §5.6.7, IMF-fixdate) and the access log's
//! timestamp (Django runserver's `22/Nov/2026 04:34:37`).
//!
//! Both are formatted at most once a second per thread and cached, as hyper does: the hot path
//! only reads the clock and compares seconds. Times are UTC; no time-zone database is read.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) const HTTP_DATE_LEN: usize = 29;
/// Length of the log timestamp: `22/Nov/2026 04:34:37`.
const LOG_DATE_LEN: usize = 20;

/// A calendar time in UTC, broken down.
struct Civil {
    year: i64,
    month: usize, // 1..=12
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    weekday: usize, // index into DAYS, 0 = Thursday (1970-01-01)
}

fn civil(unix: u64) -> Civil {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    // Howard Hinnant's days_from_civil inverse, for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        min: (rem / 60 % 60) as u32,
        sec: (rem % 60) as u32,
        weekday: (days.rem_euclid(7)) as usize,
    }
}

fn put2(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

fn put4(out: &mut [u8], v: i64) {
    let v = v.clamp(0, 9999) as u32;
    put2(&mut out[..2], v / 100);
    put2(&mut out[2..], v % 100);
}

/// Formats `unix` seconds as an IMF-fixdate.
pub(crate) fn http_date(unix: u64) -> [u8; HTTP_DATE_LEN] {
    let c = civil(unix);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[c.weekday].as_bytes());
    put2(&mut out[5..7], c.day);
    out[8..11].copy_from_slice(MONTHS[c.month - 1].as_bytes());
    put4(&mut out[12..16], c.year);
    put2(&mut out[17..19], c.hour);
    put2(&mut out[20..22], c.min);
    put2(&mut out[23..25], c.sec);
    out
}

/// Formats `unix` seconds as Django's log timestamp.
fn log_date(unix: u64) -> [u8; LOG_DATE_LEN] {
    let c = civil(unix);
    let mut out = *b"01/Jan/1970 00:00:00";
    put2(&mut out[0..2], c.day);
    out[3..6].copy_from_slice(MONTHS[c.month - 1].as_bytes());
    put4(&mut out[7..11], c.year);
    put2(&mut out[12..14], c.hour);
    put2(&mut out[15..17], c.min);
    put2(&mut out[18..20], c.sec);
    out
}

/// Formats a `SystemTime` as an IMF-fixdate string (for `Last-Modified` and the like).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(basehttp::fmt_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn fmt_http_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    String::from_utf8_lossy(&http_date(secs)).into_owned()
}

/// Formats `unix` seconds as `2026-11-22 04:34` (UTC), for directory listings.
pub(crate) fn listing_date(unix: u64) -> [u8; 16] {
    let c = civil(unix);
    let mut out = *b"1970-01-01 00:00";
    put4(&mut out[0..4], c.year);
    put2(&mut out[5..7], c.month as u32);
    put2(&mut out[8..10], c.day);
    put2(&mut out[11..13], c.hour);
    put2(&mut out[14..16], c.min);
    out
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into Unix seconds.
///
/// RFC 9110 §5.6.7 asks recipients to accept the obsolete RFC 850 and asctime forms too; no
/// client in use sends them in `If-Modified-Since` or `If-Range`, and a date that does not
/// parse only means the validator is ignored (a full `200`), never a wrong answer.
pub(crate) fn parse_http_date(text: &[u8]) -> Option<u64> {
    let t = text.trim_ascii();
    if t.len() != HTTP_DATE_LEN || &t[3..5] != b", " || &t[25..] != b" GMT" {
        return None;
    }
    if !DAYS.iter().any(|d| d.as_bytes() == &t[..3]) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = &t[range];
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
    };
    let punctuation = [(7, b' '), (11, b' '), (16, b' '), (19, b':'), (22, b':')];
    if punctuation.iter().any(|&(i, c)| t[i] != c) {
        return None;
    }
    let day = num(5..7)?;
    let month = MONTHS.iter().position(|m| m.as_bytes() == &t[8..11])? as u64 + 1;
    let year = num(12..16)?;
    let (hour, min, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if year < 1970 || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil, the inverse of `civil`.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + hour * 3600 + min * 60 + sec)
}

struct Cache {
    second: u64,
    http: [u8; HTTP_DATE_LEN],
    log: [u8; LOG_DATE_LEN],
    /// The window of the caller's clock (microseconds since its pool started) known to fall
    /// within `second`: a timestamp inside it needs no clock read at all.
    from: u64,
    until: u64,
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache {
            second: u64::MAX,
            http: [0; HTTP_DATE_LEN],
            log: [0; LOG_DATE_LEN],
            from: u64::MAX,
            until: 0,
        })
    };
}

impl Cache {
    /// Reads the wall clock and formats its second, if it is not the cached one.
    fn refresh(&mut self) -> u32 {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let now = since.as_secs();
        if self.second != now {
            self.second = now;
            self.http = http_date(now);
            self.log = log_date(now);
        }
        since.subsec_micros()
    }
}

fn with_cache<R>(f: impl FnOnce(&Cache) -> R) -> R {
    CACHE.with(|cell| {
        let mut cache = cell.borrow_mut();
        let before = cache.second;
        cache.refresh();
        if cache.second != before {
            // The window was for the second before.
            (cache.from, cache.until) = (u64::MAX, 0);
        }
        f(&cache)
    })
}

/// Like [`with_cache`] for a time already read: `micros` on a thread's own monotonic clock
/// (a worker's microseconds since its pool started). Within the second last read (the
/// window from the reading to the next second's start, on that clock) no clock is read; a
/// step of the wall clock shows by the next second at the latest.
fn with_cache_at<R>(micros: u64, f: impl FnOnce(&Cache) -> R) -> R {
    CACHE.with(|cell| {
        let mut cache = cell.borrow_mut();
        if !(cache.from..cache.until).contains(&micros) {
            // `micros` was taken before this reading, so the window ends early if at all:
            // never late.
            let subsec = cache.refresh();
            cache.from = micros;
            cache.until = micros + u64::from(1_000_000 - subsec.min(999_999));
        }
        f(&cache)
    })
}

/// The current time as an IMF-fixdate, formatted at most once a second on this thread.
pub(crate) fn now_http() -> [u8; HTTP_DATE_LEN] {
    with_cache(|c| c.http)
}

/// [`now_http`] at `micros` microseconds after a worker's pool started: a timestamp the
/// worker already took, so the hot path reads no clock for the `Date` header.
pub(crate) fn http_at(micros: u64) -> [u8; HTTP_DATE_LEN] {
    with_cache_at(micros, |c| c.http)
}

/// The access log's timestamp at a worker's timestamp, as [`http_at`].
pub(crate) fn log_at(micros: u64) -> [u8; LOG_DATE_LEN] {
    with_cache_at(micros, |c| c.log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example_date() {
        // RFC 9110 §5.6.7's example.
        assert_eq!(&http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn leap_days_and_year_ends() {
        assert_eq!(&http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&http_date(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&http_date(1_798_761_599), b"Thu, 31 Dec 2026 23:59:59 GMT");
        assert_eq!(&log_date(1_795_322_077), b"22/Nov/2026 04:34:37");
        assert_eq!(&listing_date(1_795_322_077), b"2026-11-22 04:34");
    }

    #[test]
    fn dates_at_a_timestamp_follow_the_clock() {
        let start = std::time::Instant::now();
        let micros = || start.elapsed().as_micros() as u64 + 5_000_000;
        let first = http_at(micros());
        // Within the window the cached second is given; it is the clock's second, give or
        // take the one tick the test may cross.
        let at_once = http_at(micros());
        let now = now_http();
        assert!(
            at_once == first || at_once == now,
            "{at_once:?} {first:?} {now:?}"
        );
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let log = log_at(micros());
        assert!((secs - 1..=secs + 1).any(|s| log == log_date(s)), "{log:?}");
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        let later = http_at(micros());
        assert_ne!(later, first, "a second later the Date header moved on");
        assert_eq!(later, now_http());
        // A timestamp before the window (another pool's clock) reads the clock again.
        assert_eq!(http_at(0), now_http());
    }

    #[test]
    fn http_dates_parse_back() {
        for unix in [0, 784_111_777, 951_782_400, 1_798_761_599, 4_102_444_800] {
            assert_eq!(parse_http_date(&http_date(unix)), Some(unix), "{unix}");
        }
        assert_eq!(
            parse_http_date(b" Sun, 06 Nov 1994 08:49:37 GMT "),
            Some(784_111_777)
        );
        for bad in [
            &b""[..],
            b"Sunday, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 1994",
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 06 Foo 1994 08:49:37 GMT",
            b"Sun, 6x Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 25:49:37 GMT",
            b"Sun, 06 Nov 1960 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GM\u{e9}".as_bytes(),
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }
}
