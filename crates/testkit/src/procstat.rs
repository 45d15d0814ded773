//! This process's memory and this thread's CPU time, read from `/proc` (Linux), for the
//! benchmarks' figures. Elsewhere the readings are 0.

/// `(VmRSS, VmHWM)`: current and peak resident memory, in bytes.
pub fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Peak resident memory (VmHWM), in bytes.
pub fn peak_rss() -> u64 {
    memory().1
}

/// Resets the peak resident memory to the current one (Linux ≥ 4.0); whether it could.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Nanoseconds this thread has spent on a CPU (`/proc/thread-self/schedstat`, the figure
/// `getrusage(RUSAGE_THREAD)` gives): unlike wall time it does not grow when other processes
/// share the cores.
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn readings_are_plausible_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            let (rss, peak) = super::memory();
            assert!(rss > 0 && peak >= rss, "rss {rss} peak {peak}");
        }
    }
}
