//! What the machine did while a benchmark ran, from Linux's `/proc`: CPU
//! time by state (steal included) for the whole machine, and CPU time by
//! thread for a process, so a run can say where each microsecond of a
//! request went (docs/performance.md, "How ingest is measured").

use std::collections::BTreeMap;

/// `/proc` counts CPU time in `USER_HZ` ticks, which Linux fixes at 100 per
/// second on every architecture it exports to user space (proc(5)).
const TICKS_PER_S: f64 = 100.0;

/// The machine's CPU time so far, in seconds summed over its cores, by state
/// (the first line of `/proc/stat`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineTimes {
    pub user: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    /// Hardware and soft interrupts (on loopback, most of TCP's receive path).
    pub interrupts: f64,
    /// Time the hypervisor gave this VM's cores to someone else.
    pub steal: f64,
}

impl MachineTimes {
    pub fn now() -> Option<MachineTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse::<f64>().map(|t| t / TICKS_PER_S))
            .collect::<Result<_, _>>()
            .ok()?;
        let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
        Some(MachineTimes {
            user: at(0) + at(1),
            system: at(2),
            idle: at(3),
            iowait: at(4),
            interrupts: at(5) + at(6),
            steal: at(7),
        })
    }

    pub fn since(&self, earlier: &MachineTimes) -> MachineTimes {
        MachineTimes {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
            idle: self.idle - earlier.idle,
            iowait: self.iowait - earlier.iowait,
            interrupts: self.interrupts - earlier.interrupts,
            steal: self.steal - earlier.steal,
        }
    }

    pub fn total(&self) -> f64 {
        self.user + self.system + self.idle + self.iowait + self.interrupts + self.steal
    }

    /// Stolen time as a share of all time (0..=1).
    pub fn steal_share(&self) -> f64 {
        let total = self.total();
        if total > 0.0 {
            self.steal / total
        } else {
            0.0
        }
    }
}

/// The CPU clock the kernel reports for the first core, in MHz (on a VM
/// often the host's nominal clock, not the one it runs at).
pub fn cpu_mhz() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("cpu MHz"))?;
    line.split(':').nth(1)?.trim().parse().ok()
}

/// CPU seconds (user + system) used so far by each live thread of process
/// `pid`, keyed by (name, thread id): a thread that ends between two
/// readings drops out of both ([`thread_times_since`]) instead of making
/// its name's difference negative.
pub fn thread_times(pid: u32) -> BTreeMap<(String, u32), f64> {
    let mut times = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return times;
    };
    for task in tasks.filter_map(Result::ok) {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        if let Some((name, seconds)) = parse_task_stat(&stat) {
            times.insert((name, tid), seconds);
        }
    }
    times
}

/// CPU seconds (user + system) used so far by process `pid`, threads that
/// have ended included.
pub fn process_time(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| parse_task_stat(&stat))
        .map_or(0.0, |(_, seconds)| seconds)
}

/// Context switches (voluntary and not) of every thread of process `pid`
/// so far, summed: each is a thread put to sleep or preempted, and woken.
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// `pid (name) state ppid … utime stime …` (proc(5)): the name may hold
/// spaces and parentheses, so fields are counted after its last `)`.
fn parse_task_stat(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // Fields 14 and 15 of the line; the text after `)` starts at field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / TICKS_PER_S))
}

/// Waits until process `pid` is quiet (under 5% of a core over half a
/// second; RocksDB flushes and compacts after a run) or `limit` has passed.
/// Returns how long it waited.
pub fn wait_until_quiet(pid: u32, limit: std::time::Duration) -> std::time::Duration {
    let started = std::time::Instant::now();
    let window = std::time::Duration::from_millis(500);
    while started.elapsed() < limit {
        let before = process_time(pid);
        std::thread::sleep(window);
        let used = process_time(pid) - before;
        if used < 0.05 * window.as_secs_f64() {
            break;
        }
    }
    started.elapsed()
}

/// CPU seconds of each thread between two readings, summed by thread
/// name; threads that ended meanwhile are not counted (their time is in
/// [`process_time`]).
pub fn thread_times_since(
    now: &BTreeMap<(String, u32), f64>,
    earlier: &BTreeMap<(String, u32), f64>,
) -> BTreeMap<String, f64> {
    let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
    for (key, t) in now {
        let before = earlier.get(key).copied().unwrap_or(0.0);
        *by_name.entry(key.0.clone()).or_default() += t - before;
    }
    by_name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_stat_names_may_hold_spaces_and_parentheses() {
        let line = "4242 (rocksdb:low (2)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        let (name, seconds) = parse_task_stat(line).unwrap();
        assert_eq!(name, "rocksdb:low (2)");
        assert!((seconds - 3.0).abs() < 1e-9);
    }

    #[test]
    fn this_process_uses_cpu_and_the_machine_reports_its_states() {
        let before = thread_times(std::process::id());
        let process_before = process_time(std::process::id());
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed().as_millis() < 150 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = thread_times(std::process::id());
        let used: f64 = thread_times_since(&after, &before).values().sum();
        assert!(used > 0.0, "no CPU time counted for a busy thread");
        assert!(process_time(std::process::id()) - process_before > 0.0);
        assert!(context_switches(std::process::id()) > 0);
        let m = MachineTimes::now().expect("/proc/stat");
        assert!(m.total() > 0.0 && (0.0..=1.0).contains(&m.steal_share()));
    }
}
