//! The Runtime API emulator against a stand-in function (a Python script speaking
//! the Runtime API) that answers, fails or exits as each event asks.

use std::path::PathBuf;

use connect_tools::runtime_api::{FunctionProcess, Outcome};
use serde_json::json;

const FUNCTION: &str = r#"
import json, os, sys, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
def post(path, body):
    request = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request).read()
print("started", flush=True)
print("to stderr", file=sys.stderr, flush=True)
while True:
    with urllib.request.urlopen(api + "/invocation/next") as next_event:
        request_id = next_event.headers["lambda-runtime-aws-request-id"]
        event = json.load(next_event)
    print(json.dumps({"event": event, "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}), flush=True)
    if event["do"] == "respond":
        post(f"/invocation/{request_id}/response", {"statusCode": 200, "body": "{}"})
    elif event["do"] == "fail":
        post(f"/invocation/{request_id}/error", {"errorType": "Boom", "errorMessage": "failed"})
    else:
        sys.exit(3)
"#;

/// The script, made executable with the machine's python3 as its interpreter.
fn stand_in_function() -> PathBuf {
    let python = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("python3"))
        .find(|candidate| candidate.is_file())
        .expect("python3 on PATH");
    let script = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stand-in-function");
    std::fs::write(&script, format!("#!{}\n{FUNCTION}", python.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[tokio::test]
async fn tells_responses_errors_and_exits_apart() {
    let mut process = FunctionProcess::start(&stand_in_function(), [("UNUSED", "1")])
        .await
        .expect("start the stand-in");
    process.wait_ready().await.expect("it asks for an event");
    let pid = process.pid();

    match process.invoke(&json!({"do": "respond"})).await {
        Outcome::Response(response) => assert_eq!(response["statusCode"], 200),
        other => panic!("{other:?}"),
    }
    match process.invoke(&json!({"do": "fail"})).await {
        Outcome::Error(error) => assert_eq!(error["errorType"], "Boom"),
        other => panic!("{other:?}"),
    }
    process
        .wait_idle()
        .await
        .expect("it asks for the next event");
    assert!(process.is_alive());
    assert_eq!(process.pid(), pid);
    assert!(process.last_request_id().is_some());

    match process.invoke(&json!({"do": "exit"})).await {
        Outcome::Died(how) => assert!(how.contains('3'), "{how}"),
        other => panic!("{other:?}"),
    }
    assert!(!process.is_alive());
    process.stop().await;
    let stdout = process.stdout();
    assert_eq!(stdout.len(), 4, "{stdout:?}");
    assert_eq!(stdout[0], "started");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout[2]).unwrap(),
        json!({"event": {"do": "fail"}, "function": "stand-in-function"})
    );
    assert_eq!(process.stderr(), ["to stderr"]);
}
