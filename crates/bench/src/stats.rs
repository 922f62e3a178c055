//! Per-request recording (one recorder per worker, merged at the end of a phase), the phase
//! summary, its table line and its JSON form, and CPU/memory sampling from /proc.

use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Error bodies kept per phase (the first ones seen).
const ERROR_SAMPLES: usize = 5;
/// Longest error body kept, in characters.
const ERROR_SAMPLE_CHARS: usize = 400;

/// What one worker saw during a phase.
pub struct Recorder {
    /// Latency of every request in microseconds (successful and failed).
    hist: Histogram<u64>,
    requests: u64,
    /// Failed requests by key: the HTTP status (`"409"`), `"timeout"`, `"transport"`, or
    /// `"<status> unexpected body"` for an expected status with a body that did not check out.
    errors: BTreeMap<String, u64>,
    samples: Vec<String>,
    /// When each request ended and its latency in µs, if asked for (`--latency-log`): to see
    /// whether slow requests come together (a stall) or alone.
    timeline: Option<Vec<(Instant, u64)>>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            // 1 µs .. 10 min, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            requests: 0,
            errors: BTreeMap::new(),
            samples: Vec::new(),
            timeline: None,
        }
    }

    /// A recorder that also keeps every request's end time and latency.
    pub fn with_timeline(keep: bool) -> Self {
        Recorder { timeline: keep.then(Vec::new), ..Recorder::new() }
    }

    fn latency(&mut self, latency: Duration) {
        self.requests += 1;
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        self.hist.saturating_record(us);
        if let Some(timeline) = &mut self.timeline {
            timeline.push((Instant::now(), us));
        }
    }

    /// Takes every request's end time and latency in µs, in end-time order (empty unless kept).
    pub fn take_timeline(&mut self) -> Vec<(Instant, u64)> {
        let mut t = self.timeline.take().unwrap_or_default();
        t.sort_unstable();
        t
    }

    pub fn ok(&mut self, latency: Duration) {
        self.latency(latency);
    }

    pub fn error(&mut self, latency: Duration, key: String, what: &str, detail: &str) {
        self.latency(latency);
        *self.errors.entry(key).or_default() += 1;
        if self.samples.len() < ERROR_SAMPLES {
            let mut kept: String = detail.chars().take(ERROR_SAMPLE_CHARS).collect();
            if kept.len() < detail.len() {
                kept.push('…');
            }
            self.samples.push(format!("{what}: {kept}"));
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.hist.add(&other.hist).expect("histograms with the same bounds");
        self.requests += other.requests;
        for (key, n) in other.errors {
            *self.errors.entry(key).or_default() += n;
        }
        for s in other.samples {
            if self.samples.len() < ERROR_SAMPLES {
                self.samples.push(s);
            }
        }
        if let Some(theirs) = other.timeline {
            self.timeline.get_or_insert_with(Vec::new).extend(theirs);
        }
    }
}

/// CPU time and memory of a process, read from /proc.
#[derive(Clone, Copy, Default)]
pub struct ProcSample {
    pub cpu: Duration,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status` (`pid` = `"self"` for this process).
/// `None` where /proc is not there or the process is gone.
pub fn sample_process(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Some(ProcSample { cpu: Duration::from_millis(ticks * 10), rss_kib: kib("VmRSS:"), hwm_kib: kib("VmHWM:") })
}

/// The machine's CPU time counters (the `cpu` line of /proc/stat), in clock ticks; or what
/// they counted between two samples.
#[derive(Clone, Copy)]
pub struct MachineSample {
    /// user + nice + system + idle + iowait + irq + softirq + steal.
    pub total: u64,
    /// Time the hypervisor gave this machine's virtual CPUs to someone else.
    pub steal: u64,
}

impl MachineSample {
    /// What the counters counted between `self` and a later sample.
    pub fn until(&self, later: &MachineSample) -> MachineSample {
        MachineSample { total: later.total.saturating_sub(self.total), steal: later.steal.saturating_sub(self.steal) }
    }
}

/// Reads the machine-wide CPU counters; `None` where /proc/stat is not there.
pub fn sample_machine() -> Option<MachineSample> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = fields.split_whitespace().take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let steal = *ticks.get(7)?;
    Some(MachineSample { total: ticks.iter().sum(), steal })
}

/// The outcome of one phase.
pub struct PhaseResult {
    pub name: String,
    /// Operations the phase was asked to run (an operation may send more than one request).
    pub ops: u64,
    pub requests: u64,
    pub errors: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    pub elapsed: Duration,
    hist: Histogram<u64>,
    /// CPU used by this tool during the phase.
    pub client_cpu: Option<Duration>,
    /// CPU used by the server during the phase (with `--server-pid`).
    pub server_cpu: Option<Duration>,
    /// The server's resident memory at the end of the phase (with `--server-pid`).
    pub server_rss_kib: Option<u64>,
    /// The machine's CPU time during the phase, and how much of it the hypervisor stole: on a
    /// shared virtual machine, a slow phase with much steal says little about the server.
    pub machine: Option<MachineSample>,
    /// The sum of two earlier phases (its errors were reported with them).
    pub combined: bool,
}

impl PhaseResult {
    pub fn new(name: String, ops: u64, rec: Recorder, elapsed: Duration) -> Self {
        PhaseResult {
            name,
            ops,
            requests: rec.requests,
            errors: rec.errors,
            error_samples: rec.samples,
            elapsed,
            hist: rec.hist,
            client_cpu: None,
            server_cpu: None,
            server_rss_kib: None,
            machine: None,
            combined: false,
        }
    }

    /// Two runs of one measurement as one: counts and times added, latencies merged.
    pub fn combine(name: String, a: &PhaseResult, b: &PhaseResult) -> Self {
        let mut hist = a.hist.clone();
        hist.add(&b.hist).expect("histograms with the same bounds");
        let mut errors = a.errors.clone();
        for (key, n) in &b.errors {
            *errors.entry(key.clone()).or_default() += n;
        }
        let sum = |x: Option<Duration>, y: Option<Duration>| x.zip(y).map(|(x, y)| x + y);
        PhaseResult {
            name,
            ops: a.ops + b.ops,
            requests: a.requests + b.requests,
            errors,
            error_samples: a.error_samples.iter().chain(&b.error_samples).take(ERROR_SAMPLES).cloned().collect(),
            elapsed: a.elapsed + b.elapsed,
            hist,
            client_cpu: sum(a.client_cpu, b.client_cpu),
            server_cpu: sum(a.server_cpu, b.server_cpu),
            server_rss_kib: b.server_rss_kib.or(a.server_rss_kib),
            machine: a
                .machine
                .zip(b.machine)
                .map(|(x, y)| MachineSample { total: x.total + y.total, steal: x.steal + y.steal }),
            combined: true,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful requests per second of wall time.
    pub fn ops_per_sec(&self) -> f64 {
        let ok = self.requests.saturating_sub(self.error_count()) as f64;
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { ok / secs } else { 0.0 }
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.hist.is_empty() { 0.0 } else { self.hist.value_at_quantile(q) as f64 / 1000.0 }
    }

    pub fn max_ms(&self) -> f64 {
        if self.hist.is_empty() { 0.0 } else { self.hist.max() as f64 / 1000.0 }
    }

    pub fn mean_ms(&self) -> f64 {
        self.hist.mean() / 1000.0
    }

    /// CPU use over the phase in % of one core; none for phases too short for the 10 ms
    /// resolution of /proc.
    fn cpu_percent(&self, cpu: Option<Duration>) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        cpu.filter(|_| secs >= 0.5).map(|c| 100.0 * c.as_secs_f64() / secs)
    }

    /// Stolen CPU time in % of the machine's CPU time over the phase (as `st` in vmstat); none
    /// for phases too short to count.
    fn steal_percent(&self) -> Option<f64> {
        let m = self.machine?;
        (self.elapsed.as_secs_f64() >= 0.5 && m.total > 0).then(|| 100.0 * m.steal as f64 / m.total as f64)
    }

    pub fn header() -> String {
        format!(
            "{:<28} {:>9} {:>7} {:>10} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9} {:>6}",
            "phase",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "cli cpu",
            "srv cpu",
            "srv rss",
            "steal"
        )
    }

    pub fn line(&self) -> String {
        let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |p| format!("{p:.0}%"));
        let rss = self.server_rss_kib.map_or_else(|| "-".to_owned(), |k| format!("{}M", k / 1024));
        format!(
            "{:<28} {:>9} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>9.2} {:>8} {:>8} {:>9} {:>6}",
            self.name,
            self.requests,
            self.error_count(),
            self.ops_per_sec(),
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.max_ms(),
            pct(self.cpu_percent(self.client_cpu)),
            pct(self.cpu_percent(self.server_cpu)),
            rss,
            pct(self.steal_percent())
        )
    }

    /// Error counts and the first error bodies, or nothing for a clean phase.
    pub fn error_report(&self) -> Option<String> {
        if self.errors.is_empty() || self.combined {
            return None;
        }
        let counts: Vec<String> = self.errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        let mut s = format!("  {}: errors {}", self.name, counts.join(", "));
        for sample in &self.error_samples {
            s.push_str("\n    ");
            s.push_str(sample);
        }
        Some(s)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        json!({
            "phase": self.name,
            "ops": self.ops,
            "requests": self.requests,
            "errors": self.error_count(),
            "errorsByStatus": self.errors,
            "errorSamples": self.error_samples,
            "elapsedSec": round(self.elapsed.as_secs_f64()),
            "requestsPerSec": round(self.ops_per_sec()),
            "latencyMs": {
                "p50": self.quantile_ms(0.5),
                "p90": self.quantile_ms(0.9),
                "p99": self.quantile_ms(0.99),
                "p999": self.quantile_ms(0.999),
                "max": self.max_ms(),
                "mean": round(self.mean_ms()),
            },
            "clientCpuPercent": self.cpu_percent(self.client_cpu).map(round),
            "serverCpuPercent": self.cpu_percent(self.server_cpu).map(round),
            "serverRssKiB": self.server_rss_kib,
            "machineStealPercent": self.steal_percent().map(round),
            "combinedHalves": self.combined,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeline_is_kept_only_when_asked_and_merges_in_time_order() {
        let mut plain = Recorder::new();
        plain.ok(Duration::from_millis(1));
        assert!(plain.take_timeline().is_empty());
        let mut a = Recorder::with_timeline(true);
        a.ok(Duration::from_millis(2));
        let mut b = Recorder::with_timeline(true);
        b.ok(Duration::from_millis(7));
        a.ok(Duration::from_millis(3));
        a.merge(b);
        let t = a.take_timeline();
        let mut latencies: Vec<u64> = t.iter().map(|(_, us)| *us).collect();
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0), "in end-time order");
        latencies.sort_unstable();
        assert_eq!(latencies, vec![2000, 3000, 7000]);
    }

    #[test]
    fn merge_and_summarise() {
        let mut a = Recorder::new();
        a.ok(Duration::from_millis(1));
        a.ok(Duration::from_millis(3));
        let mut b = Recorder::new();
        b.error(Duration::from_millis(10), "409".into(), "POST /Users", "{\"scimType\":\"uniqueness\"}");
        a.merge(b);
        let r = PhaseResult::new("x".into(), 3, a, Duration::from_secs(1));
        assert_eq!(r.requests, 3);
        assert_eq!(r.error_count(), 1);
        assert!((r.ops_per_sec() - 2.0).abs() < 1e-9);
        assert!((r.max_ms() - 10.0).abs() < 0.1);
        assert!(r.error_report().is_some_and(|s| s.contains("409 ×1") && s.contains("uniqueness")));
    }

    #[test]
    fn combine_adds_halves() {
        let mut a = Recorder::new();
        a.ok(Duration::from_millis(2));
        let mut b = Recorder::new();
        b.error(Duration::from_millis(4), "500".into(), "PATCH", "boom");
        let (a, b) = (
            PhaseResult::new("a".into(), 1, a, Duration::from_secs(1)),
            PhaseResult::new("b".into(), 1, b, Duration::from_secs(1)),
        );
        let c = PhaseResult::combine("c".into(), &a, &b);
        assert_eq!((c.requests, c.error_count(), c.elapsed), (2, 1, Duration::from_secs(2)));
        assert!((c.ops_per_sec() - 0.5).abs() < 1e-9);
        assert!(c.error_report().is_none() && b.error_report().is_some());
    }

    #[test]
    fn steal_is_a_share_of_the_machine_time() {
        let mut r = PhaseResult::new("x".into(), 1, Recorder::new(), Duration::from_secs(2));
        assert_eq!(r.steal_percent(), None);
        let (before, after) = (MachineSample { total: 1000, steal: 10 }, MachineSample { total: 1400, steal: 110 });
        r.machine = Some(before.until(&after));
        assert_eq!(r.steal_percent(), Some(25.0));
        assert!(r.line().trim_end().ends_with("25%"));
        let c = PhaseResult::combine("c".into(), &r, &r);
        assert_eq!(c.steal_percent(), Some(25.0));
        if let Some(m) = sample_machine() {
            assert!(m.total >= m.steal);
        }
    }

    #[test]
    fn reads_own_process() {
        if let Some(s) = sample_process("self") {
            assert!(s.rss_kib > 0);
        }
    }
}
