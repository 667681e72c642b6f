//! Every AWS call the code under test makes, as the IAM action it needs and the function
//! whose role must allow it. No emulator enforces IAM, so a call that only a fault or
//! retry path makes (the read-back of a login whose write reply was lost) would pass
//! every test and be denied on AWS. The harness gives every AWS client of the code under
//! test a [`CallRecorder`]; when `AWS_CALL_LOG` names a file (scripts/test.sh sets it),
//! each call is appended there, with the test that made it, and
//! `deployment_template::every_recorded_aws_call_is_allowed_by_its_functions_role` (in the
//! `it` test binary) checks the whole log against the roles in template.yaml once every
//! other test has run.

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use crate::Endpoint;

/// The variable naming the file every recorded call is appended to.
pub const LOG_VAR: &str = "AWS_CALL_LOG";

/// What a call outside any function's request is recorded as (a test's own set-up
/// through the app's store, as an existing login would call it).
pub const NO_FUNCTION: &str = "-";

tokio::task_local! {
    /// The function whose request is being handled: its role must allow the calls.
    static FUNCTION: Endpoint;
}

/// Runs `work` as the function serving `endpoint`: the AWS calls it makes are that
/// function's.
pub async fn as_function<F: Future>(endpoint: Endpoint, work: F) -> F::Output {
    FUNCTION.scope(endpoint, work).await
}

/// The logical id in template.yaml of the function serving `endpoint`.
pub fn function_logical_id(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::CreateConnectToken => "CreateConnectTokenFunction",
        Endpoint::VerifySignedPasskeyData => "VerifySignedPasskeyDataFunction",
        Endpoint::Session | Endpoint::Logout | Endpoint::LogoutEverywhere => "SessionFunction",
        Endpoint::Authorizer => "SessionAuthorizerFunction",
    }
}

/// One recorded call: the function that made it (or [`NO_FUNCTION`]), the IAM action,
/// and the test it came from ([`current_test`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordedCall {
    pub function: String,
    pub action: String,
    pub test: String,
}

/// The calls in the log file at `path`, one tab-separated line each.
pub fn read_log(path: &std::path::Path) -> std::io::Result<Vec<RecordedCall>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            Some(RecordedCall {
                function: fields.next()?.to_owned(),
                action: fields.next()?.to_owned(),
                test: fields.next()?.to_owned(),
            })
        })
        .collect())
}

/// The test making a call: libtest runs each test on a thread named for it
/// (`hardening::a_login_…`), and a `#[tokio::test]` runtime runs the code under test on that
/// thread. Elsewhere, the test executable's name, without the hash cargo appends.
pub fn current_test() -> String {
    // Not a test's: the main thread, and tokio's worker and blocking threads.
    if let Some(name) = std::thread::current().name() {
        if name != "main" && !name.starts_with("tokio-") {
            return name.to_owned();
        }
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|n| n.to_string_lossy().into_owned()))
        .map(|name| match name.rsplit_once('-') {
            Some((target, _hash)) => target.to_owned(),
            None => name,
        })
        .unwrap_or_default()
}

/// Records which AWS operations a client performs, as IAM actions (`dynamodb:GetItem`):
/// in memory, for the test holding it, and in the [`LOG_VAR`] file, for the check over all.
#[derive(Debug, Clone)]
pub struct CallRecorder {
    iam_prefix: &'static str,
    calls: Arc<Mutex<BTreeSet<String>>>,
}

impl CallRecorder {
    pub fn new(iam_prefix: &'static str) -> Self {
        Self {
            iam_prefix,
            calls: Default::default(),
        }
    }

    /// The actions this recorder has seen.
    pub fn actions(&self) -> BTreeSet<String> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, operation: &str) {
        let action = format!("{}:{operation}", self.iam_prefix);
        let function = FUNCTION
            .try_with(|endpoint| function_logical_id(*endpoint))
            .unwrap_or(NO_FUNCTION);
        if let Some(path) = std::env::var_os(LOG_VAR) {
            let test = current_test();
            // One write of one short line to a file opened for appending: whole, whatever
            // other test processes append at the same time.
            let line = format!("{function}\t{action}\t{test}\n");
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut file| file.write_all(line.as_bytes()));
            if let Err(err) = appended {
                panic!("{LOG_VAR} {}: {err}", path.to_string_lossy());
            }
        }
        self.calls.lock().unwrap().insert(action);
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    // Client interceptors' read_before_execution runs before the operation's
    // metadata is in the bag; by serialisation it is.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        // IAM has no TransactWriteItems action: each item needs its own action's permission.
        match context.input().downcast_ref::<TransactWriteItemsInput>() {
            Some(input) => {
                for item in input.transact_items() {
                    for (action, present) in [
                        ("PutItem", item.put().is_some()),
                        ("DeleteItem", item.delete().is_some()),
                        ("UpdateItem", item.update().is_some()),
                        ("ConditionCheckItem", item.condition_check().is_some()),
                    ] {
                        if present {
                            self.record(action);
                        }
                    }
                }
            }
            None => self.record(metadata.name()),
        }
        Ok(())
    }
}
