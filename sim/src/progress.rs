//! Progress of a range of seeds, and Ctrl-C. Both belong to the command line: the wall
//! clock read here only paces the display and never reaches a run.
//!
//! On a terminal, an indicatif bar on stderr: seeds done, seeds/s, violations so far,
//! time left. Otherwise (a log file, CI, a batch job) one plain line on stderr every
//! few seconds (`ZKWAL_PROGRESS_SECS`, default 5):
//!
//! ```text
//! progress fenced: 120000/1000000 seeds (12.0%), 1843 seeds/s, 3 violations, eta 478s
//! ```
//!
//! Ctrl-C (SIGINT, and likewise SIGTERM and SIGHUP: a Kubernetes pod being stopped, a
//! Slurm time limit) sets one process-wide flag: workers take no new seed, the seeds in
//! progress finish, and the command prints and writes what it has. A second signal
//! exits at once with code 130 (failures found so far were saved as they were found).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// The exit code of a run stopped by Ctrl-C that found no violation (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

static STOP: AtomicBool = AtomicBool::new(false);
static HANDLER: OnceLock<()> = OnceLock::new();

/// The flag Ctrl-C sets, with the handler installed on first use. A process where a
/// handler cannot be installed (one already is) runs on without it.
pub fn interrupt_flag() -> &'static AtomicBool {
    HANDLER.get_or_init(|| {
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                eprintln!("interrupted again: exiting now");
                std::process::exit(EXIT_INTERRUPTED);
            }
            eprintln!(
                "interrupted: finishing the seeds in progress, then the summary (Ctrl-C again to quit at once)"
            );
        });
    });
    &STOP
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The range `ZKWAL_PROGRESS_SECS` may take, in seconds: from 0.1 s (more often only
/// floods a log) to a day (longer is no progress line at all).
pub const PROGRESS_SECS_RANGE: std::ops::RangeInclusive<f64> = 0.1..=86_400.0;

/// Seconds between plain progress lines: `ZKWAL_PROGRESS_SECS`, default 5. A value that
/// is not a number in [`PROGRESS_SECS_RANGE`] is refused with a one-line error (the
/// CLI calls this before anything runs).
pub fn plain_interval() -> Result<Duration, String> {
    let Some(raw) = std::env::var_os("ZKWAL_PROGRESS_SECS") else {
        return Ok(Duration::from_secs(5));
    };
    let bad = || {
        format!(
            "ZKWAL_PROGRESS_SECS={}: must be a number of seconds in {}..={}",
            raw.to_string_lossy(),
            PROGRESS_SECS_RANGE.start(),
            PROGRESS_SECS_RANGE.end()
        )
    };
    let secs: f64 = raw
        .to_str()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(bad)?;
    if !PROGRESS_SECS_RANGE.contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

struct Counts {
    total: u64,
    done: AtomicU64,
    violations: AtomicU64,
}

impl Counts {
    fn line(&self, label: &str, since: Instant) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let secs = since.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / secs;
        let eta = if done == 0 {
            "-".to_string()
        } else {
            format!("{:.0}s", (self.total - done) as f64 / rate)
        };
        format!(
            "progress{}{label}: {done}/{} seeds ({:.1}%), {rate:.0} seeds/s, {} violations, eta {eta}",
            if label.is_empty() { "" } else { " " },
            self.total,
            100.0 * done as f64 / self.total.max(1) as f64,
            self.violations.load(Ordering::Relaxed),
        )
    }
}

/// The progress display of one range of seeds.
pub struct Progress {
    bar: ProgressBar,
    counts: std::sync::Arc<Counts>,
    plain: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Progress {
    /// A bar on a terminal, else plain lines; `label` names the range (a variant).
    pub fn new(label: &str, total: u64) -> Progress {
        let counts = std::sync::Arc::new(Counts {
            total,
            done: AtomicU64::new(0),
            violations: AtomicU64::new(0),
        });
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix}{bar:30} {pos}/{len} seeds, {rate} seeds/s, {msg}, eta {eta}",
                )
                .expect("valid template")
                .with_key(
                    "rate",
                    |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}", s.per_sec());
                    },
                ),
            );
            if !label.is_empty() {
                bar.set_prefix(format!("{label:>16} "));
            }
            bar.set_message("0 violations");
            return Progress {
                bar,
                counts,
                plain: None,
            };
        }
        let (tx, rx) = channel::<()>();
        let every = plain_interval().unwrap_or(Duration::from_secs(5)); // checked up front by the CLI
        let (c, label) = (counts.clone(), label.to_string());
        let start = Instant::now();
        let handle = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                eprintln!("{}", c.line(&label, start));
            }
        });
        Progress {
            bar: ProgressBar::hidden(),
            counts,
            plain: Some((tx, handle)),
        }
    }

    /// One seed finished (from any worker thread).
    pub fn seed_done(&self, violated: bool) {
        self.counts.done.fetch_add(1, Ordering::Relaxed);
        if violated {
            let n = self.counts.violations.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("{n} violations"));
        }
        self.bar.inc(1);
    }

    /// Prints a line on stderr without garbling the bar.
    pub fn eprintln(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
        if let Some((tx, handle)) = self.plain {
            drop(tx);
            let _ = handle.join();
        }
    }
}
