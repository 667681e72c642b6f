//! The tests that read what the code under test logs. They share the process's one log
//! subscriber (`integration_tests::logs`), which formats every event at TRACE: a binary of
//! their own, so that the tests in `it` do not pay for it.

mod corbado_faults;
mod log_hygiene;
mod request_log;
