//! Log output captured in memory.

use std::sync::{Arc, Mutex};

/// Log output captured in memory, for tests that read what the functions log.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the process-wide JSON log subscriber, at `level`, writing here.
    pub fn install_json(level: tracing_subscriber::filter::LevelFilter) -> Self {
        let logs = Self::default();
        tracing_subscriber::fmt()
            .json()
            .with_max_level(level)
            .with_writer(logs.clone())
            .init();
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("logs are UTF-8")
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
