//! The wall clock: milliseconds since the Unix epoch, as events, records and evidence
//! carry them. One definition, so every timestamp liveguard writes agrees.

/// Now, in milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
