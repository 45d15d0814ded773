//! Progress: bars on a TTY, plain log lines otherwise.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};

use esteira_core::{Progress, StageRecord, StageStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The one set of bars of this process; log lines are printed through it so bars and logs do
/// not overwrite each other.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Whether progress bars are drawn (stderr is a terminal).
pub fn bars_enabled() -> bool {
    std::io::stderr().is_terminal()
}

fn bars() -> &'static MultiProgress {
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// A log writer that prints above the bars (the binary's subscriber writes through it).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BARS.get() {
            Some(m) => m.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Reports stage starts, ends and progress.
pub struct Reporter {
    multi: Option<MultiProgress>,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Reporter {
    /// Bars when stderr is a terminal (and `quiet` is false), log lines otherwise.
    pub fn new(quiet: bool) -> Arc<Self> {
        let multi = (bars_enabled() && !quiet).then(|| bars().clone());
        Arc::new(Self { multi, bars: Mutex::new(BTreeMap::new()) })
    }

    /// A stage began executing.
    pub fn started(&self, name: &str, kind: &str) {
        match &self.multi {
            Some(m) => {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<18} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(name.to_owned());
                bar.set_message(format!("({kind})"));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                if let Ok(mut b) = self.bars.lock() {
                    b.insert(name.to_owned(), bar);
                }
            }
            // Without a terminal only the end of a stage is logged: a start line for every
            // cached stage would be noise.
            None => tracing::debug!(stage = name, kind, "started"),
        }
    }

    /// A stage ended.
    pub fn finished(&self, name: &str, r: &StageRecord) {
        let bar = self.bars.lock().ok().and_then(|mut b| b.remove(name));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let secs = (r.end_ms - r.start_ms) / 1e3;
        match r.status {
            StageStatus::Failed => {
                tracing::error!(stage = name, "failed after {secs:.2}s: {}", r.error.as_deref().unwrap_or("?"));
            }
            StageStatus::Skipped => tracing::info!(stage = name, "skipped: {}", r.error.as_deref().unwrap_or("")),
            s => tracing::info!(stage = name, "{} in {secs:.3}s", s.as_str()),
        }
    }

    /// A [`Progress`] handle for a stage.
    pub fn progress_for(&self, name: &str) -> Arc<dyn Progress> {
        let bar = self.bars.lock().ok().and_then(|b| b.get(name).cloned());
        match bar {
            Some(bar) => Arc::new(BarProgress(bar)),
            None => Arc::new(esteira_core::NoProgress),
        }
    }
}

struct BarProgress(ProgressBar);

impl Progress for BarProgress {
    fn set_length(&self, total: u64) {
        if total > 0 {
            self.0.set_length(total);
            self.0.set_style(
                ProgressStyle::with_template("{prefix:<18} [{bar:30}] {bytes}/{total_bytes} {msg} {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
        }
    }
    fn inc(&self, delta: u64) {
        self.0.inc(delta);
    }
    fn set_message(&self, message: &str) {
        self.0.set_message(message.to_owned());
    }
}
