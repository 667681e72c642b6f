//! Log output captured in memory. A process has one global log subscriber, and one scoped to
//! a test misses events under parallel tests (tracing caches a call site's interest across
//! threads), so the first test that asks installs one for the whole process: JSON lines at
//! TRACE, kept with the name of the thread that wrote them. libtest runs each test on a
//! thread named for it, and a `#[tokio::test]` runtime runs the code under test on that
//! thread, so each test reads its own lines while others run beside it.

use std::sync::{Mutex, Once};
use std::thread::ThreadId;

use tracing::{Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// One formatted line, as the JSON subscriber writes it, and who wrote it.
struct Line {
    thread: Option<String>,
    level: Level,
    text: String,
}

/// Run at the first event of `target` that `thread` logs.
struct Hook {
    thread: ThreadId,
    target: &'static str,
    then: Box<dyn FnOnce() + Send>,
}

static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());
static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Installs the process's subscriber, once.
fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().with_writer(Lines))
            .with(Hooks)
            .init();
    });
}

/// The log lines one test writes, at a level and above.
#[derive(Clone)]
pub struct CapturedLogs {
    thread: String,
    level: LevelFilter,
}

impl CapturedLogs {
    /// What the calling test logs at `level` and above, as the JSON subscriber writes it.
    pub fn of_this_test(level: LevelFilter) -> Self {
        install();
        let thread = std::thread::current()
            .name()
            .expect("libtest names a test's thread for the test")
            .to_owned();
        Self { thread, level }
    }

    /// This test's lines, in the order it wrote them.
    pub fn text(&self) -> String {
        let lines = LINES.lock().unwrap();
        lines
            .iter()
            .filter(|l| l.thread.as_deref() == Some(self.thread.as_str()) && l.level <= self.level)
            .map(|l| l.text.as_str())
            .collect()
    }

    /// Every line the process has logged so far, at every level: every test's, and what
    /// other threads (a runtime's blocking pool, say) wrote.
    pub fn everything(&self) -> String {
        let lines = LINES.lock().unwrap();
        lines.iter().map(|l| l.text.as_str()).collect()
    }
}

/// Runs `then` at the first event of `target` (a module path) that the calling thread logs.
pub fn on_first_event(target: &'static str, then: impl FnOnce() + Send + 'static) {
    install();
    HOOKS.lock().unwrap().push(Hook {
        thread: std::thread::current().id(),
        target,
        then: Box::new(then),
    });
}

/// Where the JSON subscriber writes: a [`LineWriter`] for each event.
struct Lines;

impl<'a> MakeWriter<'a> for Lines {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            level: Level::TRACE,
            text: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, metadata: &tracing::Metadata<'_>) -> LineWriter {
        LineWriter {
            level: *metadata.level(),
            text: Vec::new(),
        }
    }
}

/// Collects one formatted event, and keeps it as one [`Line`] when dropped.
struct LineWriter {
    level: Level,
    text: Vec<u8>,
}

impl std::io::Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let line = Line {
            thread: std::thread::current().name().map(str::to_owned),
            level: self.level,
            text: String::from_utf8_lossy(&self.text).into_owned(),
        };
        LINES.lock().unwrap().push(line);
    }
}

/// Runs the [`Hook`]s due at each event.
struct Hooks;

impl<S: Subscriber> Layer<S> for Hooks {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let thread = std::thread::current().id();
        let target = event.metadata().target();
        let due: Vec<Hook> = {
            let mut hooks = HOOKS.lock().unwrap();
            let (due, waiting) = hooks
                .drain(..)
                .partition(|h| h.thread == thread && h.target == target);
            *hooks = waiting;
            due
        };
        for hook in due {
            (hook.then)();
        }
    }
}
