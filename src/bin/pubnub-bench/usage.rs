//! CPU time and memory of this process from Linux `/proc` (zeros elsewhere).

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// Name prefix of the embedded dev server's runtime threads, so that its CPU
/// time can be told apart from the client's.
pub const SERVER_THREAD: &str = "pn-dev-server";

/// CPU seconds so far: the whole process, and the dev server's threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub process: f64,
    pub server: f64,
}

impl Cpu {
    pub fn now() -> Self {
        let process = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| cpu_ticks(&stat))
            .unwrap_or(0);
        let mut server = 0;
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                    continue;
                };
                if thread_name(&stat).is_some_and(|name| name.starts_with(SERVER_THREAD)) {
                    server += cpu_ticks(&stat).unwrap_or(0);
                }
            }
        }
        Self {
            process: process as f64 / TICKS_PER_SEC,
            server: server as f64 / TICKS_PER_SEC,
        }
    }

    /// Client and server CPU seconds spent since `earlier`.
    pub fn since(self, earlier: Cpu) -> (f64, f64) {
        let server = (self.server - earlier.server).max(0.0);
        let process = (self.process - earlier.process).max(0.0);
        ((process - server).max(0.0), server)
    }
}

/// The `(comm)` field of a stat line.
fn thread_name(stat: &str) -> Option<&str> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    stat.get(open + 1..close)
}

/// utime + stime of a stat line (fields 14 and 15, counted after the `(comm)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After `)`, field 3 (state) is index 0, so utime (14) is index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Peak resident set size (`VmHWM`) in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_and_ticks_even_with_odd_names() {
        let stat = "4242 (pn-dev (server)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0";
        assert_eq!(thread_name(stat), Some("pn-dev (server)"));
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_has_used_some_memory() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib() > 0.0);
        }
    }
}
