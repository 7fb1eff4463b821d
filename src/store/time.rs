//! Times in queries: milliseconds since the epoch, or an RFC 3339 date or date-time.

/// Parse `2026-11-29`, `2026-11-29T08:00:00Z`, `2026-11-29T16:00:00+08:00` (fractions
/// of a second allowed) or a plain number of milliseconds since the epoch.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_time(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| format!("`{s}` is out of range"));
    }
    let bad = || {
        format!("`{s}`: expected milliseconds since the epoch, YYYY-MM-DD or an RFC 3339 date-time")
    };
    let num = |t: &str| t.parse::<i64>().map_err(|_| bad());
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (
        num(parts.next().ok_or_else(bad)?)?,
        num(parts.next().ok_or_else(bad)?)?,
        num(parts.next().ok_or_else(bad)?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if let Some(t) = time {
        let (clock, offset_ms) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, off) = t.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':').ok_or_else(bad)?;
            (c, sign * (num(oh)? * 3_600_000 + num(om)? * 60_000))
        } else {
            return Err(bad());
        };
        let mut hms = clock.splitn(3, ':');
        let h = num(hms.next().ok_or_else(bad)?)?;
        let mi = num(hms.next().ok_or_else(bad)?)?;
        let sec = hms.next().unwrap_or("0");
        let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
        let frac_ms = if frac.is_empty() {
            0
        } else {
            num(&format!("{:0<3}", &frac[..frac.len().min(3)]))?
        };
        if h > 23 || mi > 59 || num(whole)? > 60 {
            return Err(bad());
        }
        ms += h * 3_600_000 + mi * 60_000 + num(whole)? * 1000 + frac_ms - offset_ms;
    }
    u64::try_from(ms).map_err(|_| bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms() {
        assert_eq!(parse_time("0").unwrap(), 0);
        assert_eq!(parse_time("1767750000123").unwrap(), 1_767_750_000_123);
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("2026-02-01").unwrap(), 1_769_904_000_000);
        assert_eq!(
            parse_time("2026-02-01T00:00:00Z").unwrap(),
            1_769_904_000_000
        );
        assert_eq!(
            parse_time("2026-02-01T08:00:00+08:00").unwrap(),
            1_769_904_000_000
        );
        assert_eq!(
            parse_time("2026-02-01T00:00:01.5Z").unwrap(),
            1_769_904_001_500
        );
        assert_eq!(parse_time("2000-03-01").unwrap(), 951_868_800_000);
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-01T25:00:00Z",
            "2026-02-01T00:00:00",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
