//! The integration tests, one module per subject, in one binary: each test binary links
//! the whole AWS SDK, so every binary more costs a link, and its disk, in every build.
//! Apart from these, only tests that change the process for every other test in it:
//! `tests/tests/logs/` installs the process's log subscriber, `tests/tests/corbado_tls.rs`
//! sets `SSL_CERT_FILE`.

mod cfn;
mod corbado_contract;
mod create_connect_token;
mod deployment_template;
mod dynamodb_faults;
mod fault_proxy;
mod hardening;
mod observability;
mod outages;
mod runtime_deadline;
mod runtime_fuzz;
mod runtime_logs;
mod runtime_support;
mod session_authorizer;
mod session_cli;
mod session_routes;
mod session_runtime;
mod startup;
mod verify_signed_passkey_data;
