//! template.yaml checked against the code: table schema, binaries, routes,
//! environment variables, and IAM actions equal to the AWS calls each function makes.

use std::collections::{BTreeSet, HashMap};

use connect_backend::config::{vars, Config};
use connect_backend::session::attr;
use connect_backend::{logging, metrics};
use connect_backend::{NewSession, SessionStore};
use integration_tests::*;
use serde_json::{json, Value};

struct Function {
    logical_id: &'static str,
    binary: &'static str,
    path: &'static str,
    endpoint: Endpoint,
}

const FUNCTIONS: [Function; 2] = [
    Function {
        logical_id: "CreateConnectTokenFunction",
        binary: "create-connect-token",
        path: "/auth/createConnectToken",
        endpoint: Endpoint::CreateConnectToken,
    },
    Function {
        logical_id: "VerifySignedPasskeyDataFunction",
        binary: "verify-signed-passkey-data",
        path: "/auth/verifySignedPasskeyData",
        endpoint: Endpoint::VerifySignedPasskeyData,
    },
];

/// template.yaml as JSON (scripts/test.sh converts it with SAM's own YAML loader,
/// which understands the short-form intrinsics such as `!Ref`).
fn template() -> Value {
    let path = std::env::var("TEMPLATE_JSON").expect("TEMPLATE_JSON is set by scripts/test.sh");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resource<'t>(template: &'t Value, logical_id: &str) -> &'t Value {
    let r = &template["Resources"][logical_id];
    assert!(r.is_object(), "template.yaml has no resource {logical_id}");
    r
}

#[test]
fn the_sessions_table_has_the_key_and_ttl_attribute_the_code_uses() {
    let t = template();
    let table = resource(&t, "SessionsTable");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(
        p["KeySchema"],
        json!([{"AttributeName": attr::KEY, "KeyType": "HASH"}])
    );
    assert_eq!(
        p["AttributeDefinitions"],
        json!([{"AttributeName": attr::KEY, "AttributeType": "S"}])
    );
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": attr::EXPIRES_AT, "Enabled": true})
    );
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
}

#[test]
fn each_function_builds_a_workspace_binary_for_arm64_and_serves_its_route() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    // A parameter, so that sam local can run x86_64 builds (scripts/sam-local.sh);
    // a deployment that does not set it gets arm64.
    assert_eq!(globals["Architectures"], json!([{"Ref": "Architecture"}]));
    let architecture = &t["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "arm64");
    assert_eq!(architecture["AllowedValues"], json!(["arm64", "x86_64"]));
    for f in FUNCTIONS {
        let function = resource(&t, f.logical_id);
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], f.binary);
        assert_eq!(function["Properties"]["CodeUri"], ".");
        let manifest = std::fs::read_to_string(format!(
            "{}/../functions/{}/Cargo.toml",
            env!("CARGO_MANIFEST_DIR"),
            f.binary
        ))
        .unwrap_or_else(|_| panic!("no workspace crate for binary {}", f.binary));
        assert!(manifest.contains(&format!("name = \"{}\"", f.binary)));
        let event = &function["Properties"]["Events"]["Api"];
        assert_eq!(event["Type"], "HttpApi");
        assert_eq!(event["Properties"]["Path"], f.path);
        assert_eq!(event["Properties"]["Method"], "POST");
        assert_eq!(event["Properties"]["ApiId"], json!({"Ref": "HttpApi"}));
    }
}

#[test]
fn each_function_gets_a_configuration_that_the_code_accepts() {
    let t = template();
    // Values a deployment would pass for the parameters without a default.
    let samples = HashMap::from([
        ("CorbadoProjectId", "pro-1234567890".to_owned()),
        (
            "CorbadoApiSecretArn",
            "arn:aws:secretsmanager:eu-central-1:111111111111:secret:corbado-AbCdEf".to_owned(),
        ),
        // A CommaDelimitedList, as CloudFormation passes it to !Join.
        (
            "AllowedOrigins",
            "https://app.example.com,https://admin.example.com".to_owned(),
        ),
    ]);
    let resolve = |value: &Value| -> String {
        if let Some(Value::String(text)) = value.get("Fn::Sub") {
            let text = text.replace("${AWS::StackName}", SAMPLE_STACK_NAME);
            assert!(!text.contains("${"), "unexpected substitution in {text}");
            return text;
        }
        let value = match value.get("Fn::Join") {
            Some(join) if join[0] == "," => &join[1],
            _ => value,
        };
        match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            v => {
                let name = v["Ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("unexpected value {v}"));
                if t["Resources"][name].is_object() {
                    return format!("{name}-physical-id");
                }
                let parameter = &t["Parameters"][name];
                assert!(parameter.is_object(), "Ref to unknown {name}");
                match &parameter["Default"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => samples
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| panic!("no sample for {name}")),
                }
            }
        }
    };
    for f in FUNCTIONS {
        let mut env = HashMap::new();
        for scope in [
            &t["Globals"]["Function"]["Environment"]["Variables"],
            &resource(&t, f.logical_id)["Properties"]["Environment"]["Variables"],
        ] {
            if let Some(vars_) = scope.as_object() {
                for (k, v) in vars_ {
                    env.insert(k.clone(), resolve(v));
                }
            }
        }
        for name in vars::REQUIRED {
            assert!(
                env.contains_key(name),
                "{}: {name} is not set",
                f.logical_id
            );
        }
        for name in env.keys() {
            assert!(
                vars::REQUIRED.contains(&name.as_str())
                    || vars::OPTIONAL.contains(&name.as_str())
                    || logging::LEVEL_VARS.contains(&name.as_str()),
                "{}: {name} is not read by the code",
                f.logical_id
            );
        }
        let config = Config::from_lookup(|name| env.get(name).cloned())
            .unwrap_or_else(|e| panic!("{}: {e}", f.logical_id));
        assert_eq!(config.sessions_table, "SessionsTable-physical-id");
        assert_eq!(
            config.allowed_origins,
            ["https://app.example.com", "https://admin.example.com"]
        );
        assert!(!config.native_app_sessions);
        assert_eq!(config.session_ttl.as_secs(), 10_800);
        assert_eq!(
            config.metrics_namespace,
            format!("CorbadoConnect/{SAMPLE_STACK_NAME}")
        );
    }
}

/// Evaluates a condition of the template (`Fn::Or`, `Fn::Equals`, `Ref` to a parameter).
fn condition_holds(t: &Value, condition: &Value, parameters: &HashMap<&str, &str>) -> bool {
    let value = |v: &Value| match v.get("Ref").and_then(Value::as_str) {
        Some(name) => parameters[name].to_owned(),
        None => v.as_str().unwrap().to_owned(),
    };
    if let Some(name) = condition.get("Condition").and_then(Value::as_str) {
        return condition_holds(t, &t["Conditions"][name], parameters);
    }
    if let Some(any) = condition.get("Fn::Or") {
        let any = any.as_array().unwrap();
        return any.iter().any(|c| condition_holds(t, c, parameters));
    }
    let equals = condition["Fn::Equals"].as_array().unwrap();
    value(&equals[0]) == value(&equals[1])
}

/// The log-level environment each `LogLevel` gets. The runtime-loop test
/// `tests/tests/runtime_logs.rs` runs the binaries with exactly this table.
#[test]
fn lambdas_log_filter_never_drops_metrics_and_the_functions_apply_the_level() {
    let t = template();
    let levels = t["Parameters"]["LogLevel"]["AllowedValues"]
        .as_array()
        .unwrap();
    let verbosity = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    assert!(levels.contains(&json!("TRACE")) && levels.contains(&json!("ERROR")));
    for level in levels.iter().map(|l| l.as_str().unwrap()) {
        let parameters = HashMap::from([("LogLevel", level)]);
        for f in FUNCTIONS {
            let logging = &resource(&t, f.logical_id)["Properties"]["LoggingConfig"];
            assert_eq!(logging["LogFormat"], "JSON", "{}", f.logical_id);
            let lambda_level = match &logging["ApplicationLogLevel"] {
                Value::String(s) => s.clone(),
                v => {
                    let branches = v["Fn::If"].as_array().expect("a level or Fn::If");
                    let name = branches[0].as_str().unwrap();
                    let condition = &t["Conditions"][name];
                    let chosen = if condition_holds(&t, condition, &parameters) {
                        &branches[1]
                    } else {
                        &branches[2]
                    };
                    match chosen.get("Ref") {
                        Some(_) => level.to_owned(),
                        None => chosen.as_str().unwrap().to_owned(),
                    }
                }
            };
            let expected = if matches!(level, "TRACE" | "DEBUG") {
                level
            } else {
                "INFO"
            };
            assert_eq!(lambda_level, expected, "{}: LogLevel {level}", f.logical_id);
            let position = |l: &str| verbosity.iter().position(|v| *v == l).unwrap();
            assert!(position(&lambda_level) <= position("INFO"));
        }
        let env = &t["Globals"]["Function"]["Environment"]["Variables"];
        assert_eq!(env["LOG_LEVEL"], json!({"Ref": "LogLevel"}));
        assert_eq!(logging::LEVEL_VARS[0], "LOG_LEVEL", "LOG_LEVEL wins");
    }
}

/// The longest name CloudFormation allows, so the namespace built from it is checked at its limit.
const SAMPLE_STACK_NAME: &str = "corbado-connect-backend-prod-with-a-stack-name-as-long-as-cloudformation-allows-which-is-one-hundred-and-twenty-eight-chars-xyz1";

#[test]
fn the_corbado_alarm_watches_the_metric_both_functions_publish() {
    let t = template();
    let namespace = &t["Globals"]["Function"]["Environment"]["Variables"][vars::METRICS_NAMESPACE];
    let alarm = &resource(&t, "CorbadoFailureAlarm")["Properties"];
    let mut endpoints = BTreeSet::new();
    for query in alarm["Metrics"].as_array().unwrap() {
        let Some(stat) = query.get("MetricStat") else {
            continue;
        };
        let metric = &stat["Metric"];
        assert_eq!(&metric["Namespace"], namespace, "the functions' namespace");
        assert_eq!(metric["MetricName"], metrics::names::CORBADO_FAILURES);
        assert_eq!(stat["Stat"], "Sum");
        let dimensions = metric["Dimensions"].as_array().unwrap();
        assert_eq!(
            dimensions.len(),
            1,
            "the metric's only dimension set is Endpoint"
        );
        assert_eq!(dimensions[0]["Name"], metrics::names::ENDPOINT);
        endpoints.insert(dimensions[0]["Value"].as_str().unwrap().to_owned());
    }
    let published: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|f| f.endpoint.as_str().to_owned())
        .collect();
    assert_eq!(endpoints, published);
}

#[test]
fn alarms_notify_the_optional_action_and_stay_quiet_without_traffic() {
    let t = template();
    assert_eq!(
        t["Conditions"]["HasAlarmAction"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmActionArn"}, ""]}]})
    );
    assert_eq!(t["Parameters"]["AlarmActionArn"]["Default"], "");
    let action =
        json!({"Fn::If": ["HasAlarmAction", [{"Ref": "AlarmActionArn"}], {"Ref": "AWS::NoValue"}]});
    for id in ["ServerErrorRateAlarm", "CorbadoFailureAlarm"] {
        let p = &resource(&t, id)["Properties"];
        assert_eq!(p["AlarmActions"], action, "{id}");
        assert_eq!(p["OKActions"], action, "{id}");
        assert_eq!(p["TreatMissingData"], "notBreaching", "{id}");
        let returned: Vec<_> = p["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["ReturnData"] == true)
            .collect();
        assert_eq!(
            returned.len(),
            1,
            "{id}: one expression is the alarm's value"
        );
    }
    // The 5xx rate comes from this stack's own HTTP API and stage.
    let rate = &resource(&t, "ServerErrorRateAlarm")["Properties"]["Metrics"];
    for query in rate
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q.get("MetricStat").is_some())
    {
        assert_eq!(
            query["MetricStat"]["Metric"]["Dimensions"],
            json!([{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}, {"Name": "Stage", "Value": {"Ref": "Stage"}}])
        );
    }
}

fn policy_statements<'t>(t: &'t Value, f: &Function) -> Vec<&'t Value> {
    let role = &resource(t, f.logical_id)["Properties"]["Role"]["Fn::GetAtt"];
    let role_id = role[0]
        .as_str()
        .expect("the function's Role is a role of this template");
    resource(t, role_id)["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        other => panic!("unexpected Action {other}"),
    }
}

#[test]
fn no_statement_allows_a_wildcard_or_denies_nothing() {
    let t = template();
    for f in FUNCTIONS {
        assert!(resource(&t, f.logical_id)["Properties"]["Policies"].is_null());
        for statement in policy_statements(&t, &f) {
            assert_eq!(statement["Effect"], "Allow");
            let text = statement.to_string();
            assert!(!text.contains('*'), "{}: wildcard in {text}", f.logical_id);
            let resource_ = &statement["Resource"];
            let expected = match actions(statement)[0].split(':').next().unwrap() {
                "logs" => {
                    json!({"Fn::GetAtt": [f.logical_id.replace("Function", "LogGroup"), "Arn"]})
                }
                "dynamodb" => json!({"Fn::GetAtt": ["SessionsTable", "Arn"]}),
                "secretsmanager" => json!({"Ref": "CorbadoApiSecretArn"}),
                other => panic!("unexpected service {other}"),
            };
            assert_eq!(resource_, &expected, "{}: {text}", f.logical_id);
        }
    }
}

/// Drives each function through its success and failure paths with AWS
/// clients that record every call, and compares with the role's actions.
#[tokio::test]
async fn each_role_allows_exactly_the_aws_actions_its_function_calls() {
    let t = template();
    let emulators = Emulators::connect().await;
    for f in FUNCTIONS {
        let corbado = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::path("/v2/passkey/verifySignedData"))
            .respond_with(verify_rsp("success"))
            .mount(&corbado)
            .await;
        wiremock::Mock::given(wiremock::matchers::path("/v2/connectTokens"))
            .respond_with(connect_token_rsp(Some("ctk1_x")))
            .mount(&corbado)
            .await;
        let (app, table, dynamodb_calls, secrets_calls) = recording_app(&emulators, &corbado).await;

        // A session as the customer's login would create it, outside the recorded clients.
        let (session, _) = SessionStore::new(
            emulators.dynamodb.clone(),
            &table,
            std::time::Duration::from_secs(60),
        )
        .create(NewSession {
            user_id: "user-42".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let events = match f.endpoint {
            Endpoint::CreateConnectToken => vec![
                Event::json(f.endpoint, &json!({"type": "passkey-append"})).session(&session),
                Event::json(f.endpoint, &json!({"type": "passkey-list"}))
                    .session(&connect_backend::SessionToken::generate().unwrap()),
                Event::json(f.endpoint, &json!({"type": "passkey-list"})),
            ],
            Endpoint::VerifySignedPasskeyData => vec![
                // A login that replaces the session the browser held.
                Event::json(
                    f.endpoint,
                    &json!({"signedPasskeyData": signed_passkey_data(login_claims("user-42"))}),
                )
                .session(&session),
                Event::json(f.endpoint, &json!({"signedPasskeyData": "not-a-jwt"})),
            ],
        };
        let statuses: Vec<u16> = statuses_of(&app, events).await;
        assert_eq!(statuses[0], 200, "{}", f.logical_id);

        let called: BTreeSet<String> = dynamodb_calls
            .actions()
            .into_iter()
            .chain(secrets_calls.actions())
            .collect();
        let allowed: BTreeSet<String> = policy_statements(&t, &f)
            .into_iter()
            .flat_map(actions)
            .filter(|a| !a.starts_with("logs:"))
            .collect();
        assert_eq!(
            allowed, called,
            "{}: the role's actions differ from the calls the code makes",
            f.logical_id
        );
    }
}

async fn statuses_of(app: &connect_backend::App, events: Vec<Event>) -> Vec<u16> {
    let mut statuses = Vec::new();
    for event in events {
        statuses.push(invoke(app, event).await.status);
    }
    statuses
}
