//! template.yaml checked against the code: table schema, binaries, routes,
//! environment variables, and IAM actions equal to the AWS calls each function makes;
//! and against what a deployment meets: SAM's transform of it, the parameters and rules
//! CloudFormation applies, samconfig.toml, and the deployment guide (docs/deploy.md).
//! What a deployment makes of the template's conditions, rules and roles is [`crate::cfn`]'s.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use connect_backend::config::{vars, Config};
use connect_backend::functions::{CreateConnectToken, SessionRoutes, VerifySignedPasskeyData};
use connect_backend::http::{Handler, Route};
use connect_backend::session::{attr, user_index};
use connect_backend::telemetry::{logging, metrics};
use integration_tests::*;
use serde_json::{json, Value};

use crate::cfn::{
    actions, allowed_by, chosen, condition_holds, created_resources, deployed, failed_rules,
    parameter_values, policy_statements, resource, resources_of_type,
};

struct Function {
    logical_id: &'static str,
    binary: &'static str,
    /// The routes the function serves, the code's own table; none for the authorizer.
    routes: &'static [Route],
    endpoint: Endpoint,
}

const FUNCTIONS: [Function; 4] = [
    Function {
        logical_id: "CreateConnectTokenFunction",
        binary: "create-connect-token",
        routes: CreateConnectToken::ROUTES,
        endpoint: Endpoint::CreateConnectToken,
    },
    Function {
        logical_id: "VerifySignedPasskeyDataFunction",
        binary: "verify-signed-passkey-data",
        routes: VerifySignedPasskeyData::ROUTES,
        endpoint: Endpoint::VerifySignedPasskeyData,
    },
    Function {
        logical_id: "SessionFunction",
        binary: "session",
        routes: SessionRoutes::ROUTES,
        endpoint: Endpoint::Session,
    },
    Function {
        logical_id: "SessionAuthorizerFunction",
        binary: "session-authorizer",
        routes: &[],
        endpoint: Endpoint::Authorizer,
    },
];

/// The functions that call Corbado, and publish `CorbadoFailures`.
fn calls_corbado(f: &Function) -> bool {
    matches!(
        f.endpoint,
        Endpoint::CreateConnectToken | Endpoint::VerifySignedPasskeyData
    )
}

/// template.yaml as JSON (scripts/test.sh converts it with SAM's own YAML loader,
/// which understands the short-form intrinsics such as `!Ref`).
fn template() -> Value {
    let path = std::env::var("TEMPLATE_JSON").expect("TEMPLATE_JSON is set by scripts/test.sh");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `tests/sam_template.py` with the project's Python tools (`.venv`, installed by
/// scripts/test.sh): SAM's translator, cfn-lint's resource schemas, TOML, regular expressions.
fn sam_template(args: &[&str]) -> Value {
    let root = project_root();
    let output = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/sam_template.py"))
        .args(args)
        .current_dir(&root)
        .output()
        .expect(".venv/bin/python: run scripts/test.sh, which installs it");
    assert!(
        output.status.success(),
        "sam_template.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The CloudFormation SAM's transform makes of template.yaml (read as `template()` reads
/// it), as CloudFormation runs it.
fn transformed(overrides: &[&str]) -> Value {
    let path = std::env::var("TEMPLATE_JSON").expect("TEMPLATE_JSON is set by scripts/test.sh");
    let mut args = vec!["transform", path.as_str()];
    args.extend(overrides);
    sam_template(&args)
}

/// Whether `value` satisfies the parameter's AllowedPattern (whole value) and AllowedValues.
fn parameter_accepts(t: &Value, name: &str, value: &str) -> bool {
    let parameter = &t["Parameters"][name];
    assert!(parameter.is_object(), "no parameter {name}");
    if let Some(allowed) = parameter["AllowedValues"].as_array() {
        // CloudFormation passes every value as a string: 90 is "90".
        let text = |a: &Value| a.as_str().map_or_else(|| a.to_string(), str::to_owned);
        if !allowed.iter().any(|a| text(a) == value) {
            return false;
        }
    }
    match parameter["AllowedPattern"].as_str() {
        Some(pattern) => sam_template(&["fullmatch", pattern, value]) == json!([true]),
        None => true,
    }
}

/// The table the code creates for local stacks and tests (`session::create_table`), as
/// DynamoDB Local describes it, must be the table the template declares.
#[tokio::test]
async fn the_sessions_table_has_the_key_index_and_ttl_attribute_the_code_uses() {
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
        json!([
            {"AttributeName": attr::KEY, "AttributeType": "S"},
            {"AttributeName": attr::USER_ID, "AttributeType": "S"}
        ])
    );
    assert_eq!(
        p["GlobalSecondaryIndexes"],
        json!([{
            "IndexName": user_index::NAME,
            "KeySchema": [{"AttributeName": attr::USER_ID, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": user_index::PROJECTED}
        }])
    );
    let emulators = Emulators::connect().await;
    let name = emulators.new_table().await;
    let described = emulators
        .dynamodb
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let index = &described.global_secondary_indexes()[0];
    let projection = index.projection().unwrap();
    let key_of = |keys: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<String> {
        keys.iter().map(|k| k.attribute_name().to_owned()).collect()
    };
    assert_eq!(key_of(described.key_schema()), [attr::KEY]);
    assert_eq!(index.index_name(), Some(user_index::NAME));
    assert_eq!(key_of(index.key_schema()), [attr::USER_ID]);
    assert_eq!(
        projection.projection_type().map(|p| p.as_str()),
        Some("INCLUDE")
    );
    assert_eq!(projection.non_key_attributes(), user_index::PROJECTED);
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": attr::EXPIRES_AT, "Enabled": true})
    );
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    // Kept when the stack is deleted, but not after a failed first deploy: its rollback
    // removes the table, which would otherwise bill point-in-time recovery as an orphan.
    assert_eq!(table["DeletionPolicy"], "RetainExceptOnCreate");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
}

#[test]
fn the_sessions_table_is_encrypted_with_the_free_aws_owned_key_unless_kms_is_chosen() {
    let t = template();
    let parameter = &t["Parameters"]["TableEncryptionKey"];
    assert_eq!(parameter["Default"], "AWS_OWNED");
    let sse = &resource(&t, "SessionsTable")["Properties"]["SSESpecification"];
    assert!(
        sse.get("KMSMasterKeyId").is_none(),
        "no customer-managed key"
    );
    for (choice, kms) in [("AWS_OWNED", false), ("AWS_MANAGED", true)] {
        assert!(parameter_accepts(&t, "TableEncryptionKey", choice));
        let parameters = parameter_values(&t, &[("TableEncryptionKey", choice)]);
        // SSEEnabled false (or absent) is DynamoDB's AWS-owned key, true the aws/dynamodb KMS key.
        assert_eq!(
            chosen(&t, &sse["SSEEnabled"], &parameters),
            &json!(kms),
            "{choice}"
        );
    }
    assert!(!parameter_accepts(
        &t,
        "TableEncryptionKey",
        "CUSTOMER_MANAGED"
    ));
}

/// The sessions table's properties whose change makes CloudFormation replace the table,
/// with their values now (`Value::Null`: not set). A replacement creates a new, empty table
/// and points the functions at it: every session is dropped.
fn table_replacing_properties() -> [(&'static str, Value); 3] {
    [
        (
            "KeySchema",
            json!([{"AttributeName": "sessionKey", "KeyType": "HASH"}]),
        ),
        ("TableName", Value::Null),
        ("ImportSourceSpecification", Value::Null),
    ]
}

const TABLE_REPLACEMENT_HEADING: &str = "## What replaces the sessions table";

#[test]
fn no_template_change_replaces_the_sessions_table_without_the_deploy_guide_saying_so() {
    let t = template();
    let pinned = table_replacing_properties();
    // The list is complete: it names every property AWS's resource schema marks as
    // replacing (create-only, or conditionally create-only such as KeySchema).
    let schema: BTreeSet<String> = serde_json::from_value(sam_template(&[
        "replacing-properties",
        "AWS::DynamoDB::Table",
    ]))
    .unwrap();
    let names: BTreeSet<String> = pinned.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(
        names, schema,
        "AWS::DynamoDB::Table is replaced by a change of {schema:?}: pin each here and name it \
         in docs/deploy.md, \"{TABLE_REPLACEMENT_HEADING}\""
    );
    // Renaming the resource replaces it too.
    let table = resource(&t, "SessionsTable");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    for (name, value) in &pinned {
        assert_eq!(
            &table["Properties"][*name], value,
            "this change of SessionsTable.{name} makes CloudFormation replace the table, \
             dropping every session. If you mean it, say so in docs/deploy.md, \
             \"{TABLE_REPLACEMENT_HEADING}\", and update the pinned value here"
        );
    }
    let guide = deploy_guide();
    let section = guide
        .split(TABLE_REPLACEMENT_HEADING)
        .nth(1)
        .unwrap_or_else(|| panic!("docs/deploy.md has no \"{TABLE_REPLACEMENT_HEADING}\""));
    let section = section.split("\n#").next().unwrap();
    for name in names.iter().map(String::as_str).chain(["SessionsTable"]) {
        assert!(
            section.contains(&format!("`{name}`")),
            "docs/deploy.md, \"{TABLE_REPLACEMENT_HEADING}\", does not name `{name}`"
        );
    }
}

/// The deployment guide, docs/deploy.md.
fn deploy_guide() -> String {
    std::fs::read_to_string(project_root().join("docs/deploy.md")).unwrap()
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
        let mut routes = BTreeSet::new();
        for event in function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|events| events.values())
        {
            assert_eq!(event["Type"], "HttpApi");
            assert_eq!(event["Properties"]["ApiId"], json!({"Ref": "HttpApi"}));
            let method = event["Properties"]["Method"].as_str().unwrap();
            let path = event["Properties"]["Path"].as_str().unwrap();
            routes.insert((method, path));
        }
        let expected: BTreeSet<_> = f
            .routes
            .iter()
            .map(|route| (route.method.as_str(), route.path))
            .collect();
        assert_eq!(routes, expected, "{}", f.logical_id);
    }
}

/// The authorizer as AWS's documentation describes it for HTTP APIs: payload 2.0, simple
/// responses, the Cookie header as identity source, and a cache that is off by default.
#[test]
fn the_session_authorizer_is_set_up_for_http_api_routes_and_api_gateway_may_invoke_it() {
    let t = template();
    let authorizer =
        &resource(&t, "HttpApi")["Properties"]["Auth"]["Authorizers"]["SessionAuthorizer"];
    assert_eq!(
        authorizer["FunctionArn"],
        json!({"Fn::GetAtt": ["SessionAuthorizerFunction", "Arn"]})
    );
    assert_eq!(authorizer["AuthorizerPayloadFormatVersion"], "2.0");
    assert_eq!(authorizer["EnableSimpleResponses"], true);
    assert_eq!(authorizer["Identity"]["Headers"], json!(["Cookie"]));
    let ttl = &t["Parameters"]["AuthorizerCacheTtlSeconds"];
    assert_eq!(
        ttl["Default"], 0,
        "a revoked session must end at once by default"
    );
    for (seconds, _) in authorizer_cache_choices(&t) {
        let parameters = parameter_values(&t, &[("AuthorizerCacheTtlSeconds", &seconds)]);
        assert_eq!(
            deployed(&t, &authorizer["Identity"]["ReauthorizeEvery"], &parameters),
            Some(json!(seconds.parse::<u64>().unwrap())),
            "AuthorizerCacheTtlSeconds={seconds}"
        );
    }
    assert!(
        resource(&t, "HttpApi")["Properties"]["Auth"]
            .get("DefaultAuthorizer")
            .is_none(),
        "the passkey and session routes check the session themselves"
    );

    // SAM grants API Gateway the invocation of routes' functions only: the authorizer's
    // permission is the template's own, or every route behind it answers 500.
    let cfn = transformed(&[]);
    let body = &cfn["Resources"]["HttpApi"]["Properties"]["Body"];
    let scheme = &body["components"]["securitySchemes"]["SessionAuthorizer"]
        ["x-amazon-apigateway-authorizer"];
    assert_eq!(scheme["identitySource"], json!(["$request.header.Cookie"]));
    assert_eq!(scheme["enableSimpleResponses"], true);
    let permissions: Vec<&Value> = cfn["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Permission")
        .filter(|r| r["Properties"]["FunctionName"] == json!({"Ref": "SessionAuthorizerFunction"}))
        .collect();
    assert_eq!(
        permissions.len(),
        1,
        "one invoke permission for the authorizer"
    );
    let permission = &permissions[0]["Properties"];
    assert_eq!(permission["Principal"], "apigateway.amazonaws.com");
    assert_eq!(permission["Action"], "lambda:InvokeFunction");
    let source = permission["SourceArn"]["Fn::Sub"].as_str().unwrap();
    assert!(
        source.ends_with(":${HttpApi}/authorizers/*"),
        "the permission is for this API's authorizers only: {source}"
    );
}

/// Each value `AuthorizerCacheTtlSeconds` allows, as CloudFormation passes it (a string), and as
/// a number.
fn authorizer_cache_choices(t: &Value) -> Vec<(String, u64)> {
    t["Parameters"]["AuthorizerCacheTtlSeconds"]["AllowedValues"]
        .as_array()
        .expect("AuthorizerCacheTtlSeconds lists its values")
        .iter()
        .map(|v| {
            let seconds = v.as_u64().expect("whole seconds");
            (seconds.to_string(), seconds)
        })
        .collect()
}

/// API Gateway reads the authorizer's cache TTL from the API's OpenAPI definition, which
/// SAM's transform writes; there it takes a number, while CloudFormation would put a
/// parameter's value there as a string (`"300"`).
#[test]
fn the_authorizer_cache_ttl_reaches_the_api_definition_as_a_number_api_gateway_accepts() {
    let t = template();
    let cfn = transformed(&[]);
    let scheme = &cfn["Resources"]["HttpApi"]["Properties"]["Body"]["components"]
        ["securitySchemes"]["SessionAuthorizer"]["x-amazon-apigateway-authorizer"];
    let choices = authorizer_cache_choices(&t);
    assert!(
        choices.iter().any(|(_, s)| *s == 0),
        "0 turns the cache off"
    );
    for (text, seconds) in choices {
        // API Gateway caches an authorizer's answer for at most an hour.
        assert!(seconds <= 3600, "{seconds}");
        let parameters = parameter_values(&t, &[("AuthorizerCacheTtlSeconds", &text)]);
        let ttl = deployed(&cfn, &scheme["authorizerResultTtlInSeconds"], &parameters);
        assert_eq!(
            ttl,
            Some(json!(seconds)),
            "AuthorizerCacheTtlSeconds={text} must reach the definition as the number {seconds}"
        );
    }
    for refused in ["-1", "3601", "1.5", "30"] {
        assert!(
            !parameter_accepts(&t, "AuthorizerCacheTtlSeconds", refused),
            "{refused}"
        );
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
        assert_eq!(config.sessions.sessions_table, "SessionsTable-physical-id");
        assert_eq!(
            config.sessions.allowed_origins,
            ["https://app.example.com", "https://admin.example.com"]
        );
        assert!(!config.sessions.native_app_sessions);
        assert_eq!(config.sessions.session_ttl.as_secs(), 10_800);
        assert_eq!(
            config.sessions.metrics_namespace,
            format!("CorbadoConnect/{SAMPLE_STACK_NAME}")
        );
    }
}

/// The log-level environment each `LogLevel` gets. The runtime-loop test
/// `it::runtime_logs` runs the binaries with exactly this table.
#[test]
fn lambdas_log_filter_never_drops_metrics_and_the_functions_apply_the_level() {
    let t = template();
    let levels = t["Parameters"]["LogLevel"]["AllowedValues"]
        .as_array()
        .unwrap();
    let verbosity = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    assert!(levels.contains(&json!("TRACE")) && levels.contains(&json!("ERROR")));
    for level in levels.iter().map(|l| l.as_str().unwrap()) {
        let parameters = parameter_values(&t, &[("LogLevel", level)]);
        for f in FUNCTIONS {
            let logging = &resource(&t, f.logical_id)["Properties"]["LoggingConfig"];
            assert_eq!(logging["LogFormat"], "JSON", "{}", f.logical_id);
            // Lambda's own START and REPORT lines are INFO: duration, billed duration,
            // maximum memory and init duration, which WARN would drop.
            assert_eq!(logging["SystemLogLevel"], "INFO", "{}", f.logical_id);
            let picked = chosen(&t, &logging["ApplicationLogLevel"], &parameters);
            let lambda_level = match picked.get("Ref") {
                Some(name) => parameters[name.as_str().unwrap()].clone(),
                None => picked.as_str().unwrap().to_owned(),
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
        .filter(|f| calls_corbado(f))
        .map(|f| f.endpoint.as_str().to_owned())
        .collect();
    assert_eq!(endpoints, published);
}

/// Every alarm of the stack.
const ALARMS: [&str; 6] = [
    "ServerErrorRateAlarm",
    "CorbadoFailureAlarm",
    "ThrottledRequestsAlarm",
    "LatencyAlarm",
    "FunctionThrottlesAlarm",
    "FunctionErrorsAlarm",
];

#[test]
fn alarms_notify_the_optional_action_and_email_and_stay_quiet_without_traffic() {
    let t = template();
    assert_eq!(
        resources_of_type(&t, "AWS::CloudWatch::Alarm"),
        BTreeSet::from(ALARMS)
    );
    for name in ["AlarmActionArn", "AlarmEmail"] {
        assert_eq!(t["Parameters"][name]["Default"], "", "{name} is optional");
    }
    for good in ["", "ops@example.com", "on-call+corbado@ops.example.co.uk"] {
        assert!(parameter_accepts(&t, "AlarmEmail", good), "{good}");
    }
    for bad in [
        "ops",
        "ops@example",
        "ops @example.com",
        "ops@example.com,dev@example.com",
    ] {
        assert!(!parameter_accepts(&t, "AlarmEmail", bad), "{bad}");
    }
    let action = (
        "AlarmActionArn",
        "arn:aws:sns:eu-central-1:111111111111:pager",
    );
    let email = ("AlarmEmail", "ops@example.com");
    let topic = json!({"Ref": "AlarmTopic"});
    let arn = json!({"Ref": "AlarmActionArn"});
    type Case<'a> = (&'a [(&'a str, &'a str)], Vec<Value>);
    let cases: [Case; 4] = [
        (&[], vec![]),
        (&[action], vec![arn.clone()]),
        (&[email], vec![topic.clone()]),
        (&[action, email], vec![topic.clone(), arn.clone()]),
    ];
    for (overrides, notified) in cases {
        let parameters = parameter_values(&t, overrides);
        let created = created_resources(&t, &parameters);
        // The topic, and with it the email subscription, only for an address.
        assert_eq!(
            created.contains("AlarmTopic"),
            overrides.contains(&email),
            "{overrides:?}"
        );
        let topic_output = json!({"Condition": t["Outputs"]["AlarmTopicArn"]["Condition"]});
        assert_eq!(
            condition_holds(&t, &topic_output, &parameters),
            overrides.contains(&email),
            "AlarmTopicArn: {overrides:?}"
        );
        for id in ALARMS {
            let p = &resource(&t, id)["Properties"];
            for key in ["AlarmActions", "OKActions"] {
                assert_eq!(
                    deployed(&t, &p[key], &parameters),
                    Some(Value::Array(notified.clone())),
                    "{id}.{key}: {overrides:?}"
                );
            }
            assert_eq!(p["TreatMissingData"], "notBreaching", "{id}");
            if let Some(metrics) = p["Metrics"].as_array() {
                let returned = metrics.iter().filter(|q| q["ReturnData"] == true).count();
                assert_eq!(returned, 1, "{id}: one expression is the alarm's value");
            }
        }
    }
    let topic = resource(&t, "AlarmTopic");
    assert_eq!(topic["Type"], "AWS::SNS::Topic");
    assert_eq!(
        topic["Properties"]["Subscription"],
        json!([{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}])
    );
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

/// The fields of the access log format (`AccessLogSettings.Format`, a JSON object) as the
/// deployed stage gets it, by their `$context` variable.
fn access_log_fields(cfn: &Value) -> HashMap<String, String> {
    let stages: Vec<&Value> = cfn["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Stage")
        .collect();
    assert_eq!(stages.len(), 1, "one stage");
    let format = stages[0]["Properties"]["AccessLogSettings"]["Format"]
        .as_str()
        .unwrap();
    let format: HashMap<String, String> =
        serde_json::from_str(format).expect("the access log format is a flat JSON object");
    format.into_iter().map(|(k, v)| (v, k)).collect()
}

/// A failed request's log line says which part failed, and how long the client waited.
#[test]
fn the_access_log_says_why_a_request_failed_and_how_long_it_took() {
    let fields = access_log_fields(&transformed(&[]));
    for variable in [
        "$context.status",
        "$context.authorizer.error",
        "$context.error.message",
        "$context.integrationStatus",
        "$context.integrationErrorMessage",
        "$context.responseLatency",
        "$context.integrationLatency",
    ] {
        assert!(
            fields.contains_key(variable),
            "the access log lacks {variable}"
        );
    }
}

#[test]
fn alarms_watch_route_throttling_latency_and_each_functions_throttles_and_errors() {
    let t = template();
    // HTTP APIs publish no metric for route throttling: a metric filter counts the access
    // log's 429s into the metric the alarm watches.
    let status_field = &access_log_fields(&transformed(&[]))["$context.status"];
    let filter = &resource(&t, "ThrottledRequestsMetricFilter")["Properties"];
    assert_eq!(filter["LogGroupName"], json!({"Ref": "ApiAccessLogGroup"}));
    assert_eq!(
        filter["FilterPattern"],
        format!("{{ $.{status_field} = \"429\" }}")
    );
    let transformation = &filter["MetricTransformations"][0];
    assert_eq!(
        transformation["MetricValue"], "1",
        "one per refused request"
    );
    let throttled = &resource(&t, "ThrottledRequestsAlarm")["Properties"];
    assert_eq!(throttled["Namespace"], transformation["MetricNamespace"]);
    assert_eq!(throttled["MetricName"], transformation["MetricName"]);
    assert_eq!(throttled["Statistic"], "Sum");
    assert_eq!(throttled["Threshold"], 1);
    assert_eq!(
        throttled["ComparisonOperator"],
        "GreaterThanOrEqualToThreshold"
    );

    // The 99th percentile of the API's own latency, above a threshold the deployment sets.
    let latency = &resource(&t, "LatencyAlarm")["Properties"];
    assert_eq!(latency["Namespace"], "AWS/ApiGateway");
    assert_eq!(latency["MetricName"], "Latency");
    assert_eq!(latency["ExtendedStatistic"], "p99");
    assert_eq!(
        latency["Dimensions"],
        json!([{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}, {"Name": "Stage", "Value": {"Ref": "Stage"}}])
    );
    assert_eq!(
        latency["Threshold"],
        json!({"Ref": "LatencyP99ThresholdMs"})
    );
    let threshold = &t["Parameters"]["LatencyP99ThresholdMs"];
    assert_eq!(threshold["Type"], "Number");
    // API Gateway gives up on an integration after 30 s.
    assert!(threshold["Default"].as_u64().unwrap() < 30_000);

    // Lambda's own Throttles and Errors of every function. Errors has no minimum count, unlike
    // the 5xx rate: one crash or timeout pages, so a full outage at night does too.
    for (id, metric) in [
        ("FunctionThrottlesAlarm", "Throttles"),
        ("FunctionErrorsAlarm", "Errors"),
    ] {
        let p = &resource(&t, id)["Properties"];
        let queries = p["Metrics"].as_array().unwrap();
        let mut watched = BTreeSet::new();
        let mut ids = Vec::new();
        for query in queries.iter().filter(|q| q.get("MetricStat").is_some()) {
            let stat = &query["MetricStat"];
            assert_eq!(stat["Metric"]["Namespace"], "AWS/Lambda", "{id}");
            assert_eq!(stat["Metric"]["MetricName"], metric, "{id}");
            assert_eq!(stat["Stat"], "Sum", "{id}");
            let dimensions = stat["Metric"]["Dimensions"].as_array().unwrap();
            assert_eq!(dimensions.len(), 1, "{id}: per function");
            assert_eq!(dimensions[0]["Name"], "FunctionName", "{id}");
            watched.insert(dimensions[0]["Value"]["Ref"].as_str().unwrap().to_owned());
            ids.push(query["Id"].as_str().unwrap());
        }
        let functions: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.logical_id.into()).collect();
        assert_eq!(watched, functions, "{id}");
        let sum = queries.iter().find(|q| q["ReturnData"] == true).unwrap();
        let expression = sum["Expression"].as_str().unwrap();
        for query_id in ids {
            // FILL: a function without invocations in the period adds 0.
            assert!(
                expression.contains(&format!("FILL({query_id}, 0)")),
                "{id}: {expression}"
            );
        }
        assert_eq!(p["Threshold"], 1, "{id}");
        assert_eq!(
            p["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
            "{id}"
        );
    }
}

#[test]
fn every_log_group_is_named_in_the_outputs() {
    let t = template();
    let groups = resources_of_type(&t, "AWS::Logs::LogGroup");
    assert_eq!(
        groups.len(),
        FUNCTIONS.len() + 1,
        "each function's and the access log"
    );
    let named: BTreeSet<&str> = t["Outputs"]
        .as_object()
        .unwrap()
        .values()
        .filter(|o| o.get("Condition").is_none())
        .filter_map(|o| o["Value"]["Ref"].as_str())
        .filter(|id| groups.contains(id))
        .collect();
    assert_eq!(named, groups);
}

#[test]
fn the_5xx_alarm_judges_only_periods_with_enough_requests() {
    let t = template();
    let minimum = &t["Parameters"]["ServerErrorMinRequests"];
    assert_eq!(minimum["Type"], "Number");
    assert_eq!(minimum["MinValue"], 1);
    assert!(
        minimum["Default"].as_u64().unwrap() >= 10,
        "one failure in a handful of requests is no outage"
    );
    let alarm = &resource(&t, "ServerErrorRateAlarm")["Properties"];
    let rate = alarm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["ReturnData"] == true)
        .unwrap();
    // Below the minimum the rate is 0, so one failed request of one cannot breach the threshold.
    assert_eq!(
        rate["Expression"],
        json!({"Fn::Sub": "IF(requests >= ${ServerErrorMinRequests}, 100 * errors / requests, 0)"})
    );
    let ids: BTreeSet<&str> = alarm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from(["errors", "requests", "rate"]));
    let description = alarm["AlarmDescription"]["Fn::Sub"].as_str().unwrap();
    assert!(
        description.contains("${ServerErrorMinRequests}"),
        "{description}"
    );
    assert_eq!(alarm["Threshold"], json!({"Ref": "ServerErrorRatePercent"}));
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
}

const CUSTOM_DOMAIN_RESOURCES: [&str; 3] = [
    "CustomDomain",
    "CustomDomainApiMapping",
    "CustomDomainRecord",
];
const SAMPLE_CERTIFICATE: &str =
    "arn:aws:acm:eu-central-1:111111111111:certificate/0f2b0c52-1c2d-4a5e-9f0a-1234567890ab";

#[test]
fn the_custom_domain_is_optional_and_the_record_needs_a_hosted_zone() {
    let t = template();
    for name in ["DomainName", "CertificateArn", "HostedZoneId"] {
        assert_eq!(t["Parameters"][name]["Default"], "", "{name} is optional");
    }
    let domain = ("DomainName", "api.example.com");
    let certificate = ("CertificateArn", SAMPLE_CERTIFICATE);
    let zone = ("HostedZoneId", "Z0123456789ABCDEFGHIJ");
    // Parameters set, and the custom-domain resources they create.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 3] = [
        (&[], &[]),
        (&[domain, certificate], &CUSTOM_DOMAIN_RESOURCES[..2]),
        (&[domain, certificate, zone], &CUSTOM_DOMAIN_RESOURCES),
    ];
    for (overrides, expected) in cases {
        let parameters = parameter_values(&t, overrides);
        assert_eq!(
            failed_rules(&t, &parameters),
            Vec::<String>::new(),
            "{overrides:?}"
        );
        let created = created_resources(&t, &parameters);
        let custom: Vec<&str> = CUSTOM_DOMAIN_RESOURCES
            .into_iter()
            .filter(|id| created.contains(*id))
            .collect();
        assert_eq!(custom, expected, "{overrides:?}");
        for output in ["CustomDomainUrl", "CustomDomainTarget"] {
            let condition = json!({"Condition": t["Outputs"][output]["Condition"]});
            assert_eq!(
                condition_holds(&t, &condition, &parameters),
                !expected.is_empty(),
                "{output}: {overrides:?}"
            );
        }
        // Everything else is there whatever the domain.
        assert!(created.contains("HttpApi") && created.contains("SessionsTable"));
    }
    // CloudFormation refuses the stack before creating anything.
    let refused = |overrides: &[(&str, &str)]| failed_rules(&t, &parameter_values(&t, overrides));
    assert_eq!(
        refused(&[domain]),
        ["DomainName needs CertificateArn, an ACM certificate for it in the stack's region."]
    );
    assert_eq!(
        refused(&[zone]),
        ["HostedZoneId is for the record of DomainName; set DomainName too."]
    );
    assert_eq!(
        refused(&[certificate]),
        Vec::<String>::new(),
        "a certificate alone is unused"
    );

    for (name, good, bad) in [
        (
            "DomainName",
            &["", "api.example.com", "auth.app.example.co.uk"][..],
            &[
                "https://api.example.com",
                "api.example.com/",
                "API.example.com",
                "localhost",
                "api.example.com.",
            ][..],
        ),
        (
            "CertificateArn",
            &["", SAMPLE_CERTIFICATE][..],
            &[
                "arn:aws:acm:eu-central-1:111111111111:certificate/",
                "0f2b0c52-1c2d-4a5e-9f0a-1234567890ab",
            ][..],
        ),
        (
            "HostedZoneId",
            &["", "Z0123456789ABCDEFGHIJ"][..],
            &["/hostedzone/Z0123456789ABCDEFGHIJ", "example.com"][..],
        ),
    ] {
        for value in good {
            assert!(
                parameter_accepts(&t, name, value),
                "{name} refuses {value:?}"
            );
        }
        for value in bad {
            assert!(
                !parameter_accepts(&t, name, value),
                "{name} accepts {value:?}"
            );
        }
    }
}

#[test]
fn the_custom_domain_serves_the_stage_at_its_root_and_its_record_points_at_it() {
    let cfn = transformed(&[
        "DomainName=api.example.com",
        &format!("CertificateArn={SAMPLE_CERTIFICATE}"),
        "HostedZoneId=Z0123456789ABCDEFGHIJ",
    ]);
    let resources = &cfn["Resources"];
    let domain = &resources["CustomDomain"];
    assert_eq!(domain["Type"], "AWS::ApiGatewayV2::DomainName");
    assert_eq!(
        domain["Properties"]["DomainName"],
        json!({"Ref": "DomainName"})
    );
    assert_eq!(
        domain["Properties"]["DomainNameConfigurations"],
        json!([{"CertificateArn": {"Ref": "CertificateArn"}, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}])
    );
    // The mapping names the stage SAM generates for the HttpApi, with no key: the stage's
    // routes are at https://DomainName/auth/…, where the frontend's site can reach them.
    let mapping = &resources["CustomDomainApiMapping"]["Properties"];
    assert_eq!(mapping["DomainName"], json!({"Ref": "CustomDomain"}));
    assert_eq!(mapping["ApiId"], json!({"Ref": "HttpApi"}));
    assert!(mapping.get("ApiMappingKey").is_none(), "the domain's root");
    let stage_id = mapping["Stage"]["Ref"]
        .as_str()
        .expect("a Ref to the stage");
    let stage = &resources[stage_id];
    assert_eq!(stage["Type"], "AWS::ApiGatewayV2::Stage", "{stage_id}");
    assert_eq!(stage["Properties"]["ApiId"], json!({"Ref": "HttpApi"}));
    assert_eq!(stage["Properties"]["StageName"], json!({"Ref": "Stage"}));
    assert_eq!(resources["HttpApi"]["Type"], "AWS::ApiGatewayV2::Api");
    let record = &resources["CustomDomainRecord"]["Properties"];
    assert_eq!(
        resources["CustomDomainRecord"]["Type"],
        "AWS::Route53::RecordSet"
    );
    assert_eq!(record["HostedZoneId"], json!({"Ref": "HostedZoneId"}));
    assert_eq!(record["Name"], json!({"Ref": "DomainName"}));
    assert_eq!(record["Type"], "A");
    assert_eq!(
        record["AliasTarget"],
        json!({
            "DNSName": {"Fn::GetAtt": ["CustomDomain", "RegionalDomainName"]},
            "HostedZoneId": {"Fn::GetAtt": ["CustomDomain", "RegionalHostedZoneId"]},
            "EvaluateTargetHealth": false
        })
    );
    for (id, condition) in [
        ("CustomDomain", "HasCustomDomain"),
        ("CustomDomainApiMapping", "HasCustomDomain"),
        ("CustomDomainRecord", "HasHostedZone"),
    ] {
        assert_eq!(resources[id]["Condition"], condition, "{id}");
    }
    let outputs = &cfn["Outputs"];
    assert_eq!(
        outputs["CustomDomainUrl"]["Value"],
        json!({"Fn::Sub": "https://${DomainName}"})
    );
    assert_eq!(
        outputs["CustomDomainTarget"]["Value"],
        json!({"Fn::GetAtt": ["CustomDomain", "RegionalDomainName"]})
    );
    // The transform keeps the rules, so CloudFormation applies them.
    assert_eq!(cfn["Rules"], template()["Rules"]);
}

/// The browser sends the SameSite=Strict cookie only to the frontend's own site: with a custom
/// domain, every URL the stack hands out must be on it, never on the execute-api host.
#[test]
fn every_url_output_is_on_the_custom_domain_when_one_is_set() {
    let t = template();
    let outputs = t["Outputs"].as_object().unwrap();
    let urls: BTreeSet<&str> = outputs
        .keys()
        .map(String::as_str)
        .filter(|k| k.ends_with("Url"))
        .collect();
    for name in [
        "ApiUrl",
        "CreateConnectTokenUrl",
        "VerifySignedPasskeyDataUrl",
        "SessionUrl",
    ] {
        assert!(urls.contains(name), "no output {name}");
    }
    let routes: BTreeSet<&str> = FUNCTIONS
        .iter()
        .flat_map(|f| f.routes.iter().map(|route| route.path))
        .collect();
    let execute_api = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}";
    let domain = [
        ("DomainName", "api.example.com"),
        ("CertificateArn", SAMPLE_CERTIFICATE),
    ];
    for (overrides, base) in [
        (&domain[..], "https://${DomainName}"),
        (&[][..], execute_api),
    ] {
        let parameters = parameter_values(&t, overrides);
        for name in &urls {
            let output = &outputs[*name];
            if let Some(condition) = output.get("Condition") {
                if !condition_holds(&t, &json!({ "Condition": condition }), &parameters) {
                    continue;
                }
            }
            let value = deployed(&t, &output["Value"], &parameters).unwrap();
            let url = value["Fn::Sub"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: {value}"));
            let path = url
                .strip_prefix(base)
                .unwrap_or_else(|| panic!("{name} is {url}, not on {base} ({overrides:?})"));
            assert!(
                path.is_empty() || routes.contains(path),
                "{name}: {path} is no route of the stack"
            );
        }
    }
}

#[test]
fn the_execute_api_endpoint_can_be_turned_off_only_behind_a_custom_domain() {
    let t = template();
    assert_eq!(
        t["Parameters"]["DisableExecuteApiEndpoint"]["Default"],
        "false"
    );
    assert!(!parameter_accepts(&t, "DisableExecuteApiEndpoint", "yes"));
    // Without a domain the API would have no address left: CloudFormation refuses it.
    assert_eq!(
        failed_rules(
            &t,
            &parameter_values(&t, &[("DisableExecuteApiEndpoint", "true")])
        ),
        ["DisableExecuteApiEndpoint needs DomainName, or the API has no address left."]
    );
    // SAM writes the setting into the API's OpenAPI definition, where API Gateway reads it.
    let cfn = transformed(&[]);
    let servers = &cfn["Resources"]["HttpApi"]["Properties"]["Body"]["servers"];
    let domain = ("DomainName", "api.example.com");
    let certificate = ("CertificateArn", SAMPLE_CERTIFICATE);
    for (overrides, disabled) in [
        (&[][..], false),
        (&[domain, certificate][..], false),
        (
            &[domain, certificate, ("DisableExecuteApiEndpoint", "false")][..],
            false,
        ),
        (
            &[domain, certificate, ("DisableExecuteApiEndpoint", "true")][..],
            true,
        ),
    ] {
        let parameters = parameter_values(&t, overrides);
        assert_eq!(
            failed_rules(&t, &parameters),
            Vec::<String>::new(),
            "{overrides:?}"
        );
        assert_eq!(
            deployed(&cfn, servers, &parameters),
            Some(
                json!([{"x-amazon-apigateway-endpoint-configuration": {"disableExecuteApiEndpoint": disabled}}])
            ),
            "{overrides:?}"
        );
    }
}

#[test]
fn access_logs_go_to_a_vendedlogs_group_and_function_reports_are_kept() {
    let t = template();
    let group = &resource(&t, "ApiAccessLogGroup")["Properties"];
    let name = group["LogGroupName"]["Fn::Sub"]
        .as_str()
        .expect("a named group");
    // Under /aws/vendedlogs/ the account's 5,120-character log resource policy does not grow
    // with every access-logged API, so stage creation cannot fail on it.
    assert!(name.starts_with("/aws/vendedlogs/"), "{name}");
    let longest = name.replace("${AWS::StackName}", SAMPLE_STACK_NAME);
    assert!(
        longest.len() <= 512,
        "log group names have at most 512 characters"
    );
    assert_eq!(
        sam_template(&["fullmatch", "[.\\-_/#A-Za-z0-9]+", &longest]),
        json!([true]),
        "{longest}"
    );

    let cfn = transformed(&[]);
    let stages: Vec<&Value> = cfn["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Stage")
        .collect();
    assert_eq!(stages.len(), 1, "one stage");
    let access = &stages[0]["Properties"]["AccessLogSettings"];
    assert_eq!(
        access["DestinationArn"],
        json!({"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]})
    );
    let format: Value = serde_json::from_str(access["Format"].as_str().unwrap())
        .expect("the access log format is a JSON object");
    assert_eq!(format["status"], "$context.status");
    for f in FUNCTIONS {
        let logging = &cfn["Resources"][f.logical_id]["Properties"]["LoggingConfig"];
        assert_eq!(
            cfn["Resources"][f.logical_id]["Type"],
            "AWS::Lambda::Function"
        );
        assert_eq!(logging["SystemLogLevel"], "INFO", "{}", f.logical_id);
    }
}

/// A full secret ARN: the name, a hyphen and the 6 characters Secrets Manager appends.
const SAMPLE_SECRET_ARN: &str =
    "arn:aws:secretsmanager:eu-central-1:111111111111:secret:corbado-connect/api_secret-AbCdEf";

#[test]
fn the_secret_parameter_takes_only_a_full_secret_arn() {
    let t = template();
    for good in [
        SAMPLE_SECRET_ARN,
        "arn:aws:secretsmanager:us-gov-west-1:111111111111:secret:corbado-AbC123",
        "arn:aws-cn:secretsmanager:cn-north-1:111111111111:secret:corbado-AbCdEf",
        "arn:aws-eusc:secretsmanager:eusc-de-east-1:111111111111:secret:corbado-AbCdEf",
    ] {
        assert!(parameter_accepts(&t, "CorbadoApiSecretArn", good), "{good}");
    }
    for bad in [
        // A partial ARN: IAM's Resource would match no secret, GetSecretValue is denied.
        "arn:aws:secretsmanager:eu-central-1:111111111111:secret:corbado-connect/api_secret",
        "arn:aws:secretsmanager:eu-central-1:111111111111:secret:corbado-connect/api_secret-AbCd",
        "arn:aws:secretsmanager:eu-central-1:111111111111:secret:corbado-connect/api_secret-AbCdEf/x",
        "arn:aws:secretsmanager:eu-central-1:111111111111:secret:*",
        "arn:aws:secretsmanager:eu-central-1:11111111111:secret:corbado-AbCdEf",
        "arn:aws:secretsmanager::111111111111:secret:corbado-AbCdEf",
        "arn:aws:ssm:eu-central-1:111111111111:parameter/corbado-AbCdEf",
        "corbado-connect/api_secret",
    ] {
        assert!(!parameter_accepts(&t, "CorbadoApiSecretArn", bad), "{bad}");
    }
    // Rules cannot take the ARN apart to compare its region with the stack's
    // (docs/deploy.md); samconfig.toml's environments are checked for it below.
}

/// The environments of samconfig.toml, each with its region and parameter overrides.
fn samconfig_environments() -> Vec<(String, Value)> {
    let config = sam_template(&["toml", "samconfig.toml"]);
    let environments: Vec<(String, Value)> = config
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.is_object())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let names: Vec<&str> = environments.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["default", "prod"]);
    environments
}

fn overrides_of(environment: &Value) -> Vec<(String, String)> {
    environment["deploy"]["parameters"]["parameter_overrides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let (k, v) = o.as_str().unwrap().split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// What a user puts in place of each REPLACE_ME of samconfig.toml, by where it stands, in order.
const PLACEHOLDER_FILLS: [(&str, &str); 4] = [
    (":REPLACE_ME:", ":123456789012:"),
    ("_secret-REPLACE_ME", "_secret-AbCdEf"),
    (
        "certificate/REPLACE_ME",
        "certificate/0f2b0c52-1c2d-4a5e-9f0a-1234567890ab",
    ),
    ("REPLACE_ME", "mycompany"),
];

/// A deploy that keeps a placeholder must fail at once: CloudFormation refuses a value
/// against the parameter's pattern before it creates anything. Filled in, every value fits.
#[test]
fn each_samconfig_environment_refuses_its_placeholders_and_fits_the_template_once_filled() {
    let t = template();
    for (name, environment) in samconfig_environments() {
        let deploy = &environment["deploy"]["parameters"];
        // Otherwise a redeploy with nothing to change exits 1 and fails a pipeline.
        assert_eq!(deploy["fail_on_empty_changeset"], false, "[{name}]");
        assert_eq!(deploy["capabilities"], "CAPABILITY_IAM", "[{name}]");
        let build = &environment["build"]["parameters"];
        // CodeUri "." makes SAM hash the whole project: its cache never hits, and with
        // parallel builds its copying races rustc.
        assert_eq!(build["cached"], false, "[{name}]");
        assert!(
            build.get("beta_features").is_none(),
            "[{name}]: rust-cargolambda needs no beta flag"
        );
        let region = environment["global"]["parameters"]["region"]
            .as_str()
            .unwrap();
        let overrides = overrides_of(&environment);
        for required in ["CorbadoProjectId", "CorbadoApiSecretArn"] {
            let (_, value) = overrides
                .iter()
                .find(|(k, _)| k == required)
                .unwrap_or_else(|| panic!("[{name}] sets no {required}"));
            assert!(value.contains("REPLACE_ME"), "[{name}] {required}={value}");
        }
        let mut filled = Vec::new();
        for (key, value) in &overrides {
            if value.contains("REPLACE_ME") && t["Parameters"][key]["AllowedPattern"].is_string() {
                assert!(
                    !parameter_accepts(&t, key, value),
                    "[{name}] {key}={value}: CloudFormation accepts the placeholder"
                );
            }
            let value = PLACEHOLDER_FILLS
                .iter()
                .fold(value.clone(), |v, (from, to)| v.replace(from, to));
            assert!(parameter_accepts(&t, key, &value), "[{name}] {key}={value}");
            filled.push((key.as_str(), value));
        }
        let pairs: Vec<(&str, &str)> = filled.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let parameters = parameter_values(&t, &pairs);
        for required in t["Parameters"].as_object().unwrap().keys() {
            assert!(
                parameters.contains_key(required),
                "[{name}] sets no {required}"
            );
        }
        assert_eq!(
            failed_rules(&t, &parameters),
            Vec::<String>::new(),
            "[{name}]"
        );
        // The stack reads the secret in its own region: the ARN must name that region.
        let secret_region = parameters["CorbadoApiSecretArn"].split(':').nth(3).unwrap();
        assert_eq!(
            secret_region, region,
            "[{name}] the secret is in another region than the stack"
        );
        if let Some(certificate) = parameters.get("CertificateArn").filter(|c| !c.is_empty()) {
            assert_eq!(
                certificate.split(':').nth(3).unwrap(),
                region,
                "[{name}] certificate region"
            );
        }
        // A custom domain is on the frontends' site: a subdomain of their registrable domain.
        let domain = &parameters["DomainName"];
        if !domain.is_empty() {
            let parent = domain.split_once('.').unwrap().1;
            for origin in parameters["AllowedOrigins"].split(',') {
                let host = origin.trim_start_matches("https://");
                assert!(
                    host == parent || host.ends_with(&format!(".{parent}")),
                    "[{name}] {origin} is not on the site of {domain}"
                );
            }
        }
    }
}

#[test]
fn the_deploy_guide_says_how_to_answer_the_guided_deploys_authentication_question() {
    let t = template();
    // No route of the stack attaches an authorizer, and there is no default one: `sam deploy
    // --guided` asks "… has no authentication. Is this okay? [y/N]" for each function with
    // a route, and the default N aborts the deploy.
    assert!(resource(&t, "HttpApi")["Properties"]["Auth"]
        .get("DefaultAuthorizer")
        .is_none());
    for f in FUNCTIONS {
        for event in resource(&t, f.logical_id)["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|events| events.values())
        {
            assert!(
                event["Properties"].get("Auth").is_none(),
                "{}",
                f.logical_id
            );
        }
    }
    let deploy = deploy_guide();
    for needed in [
        "has no authentication. Is this okay? [y/N]",
        "Security Constraints Not Satisfied!",
        "answer `y`",
    ] {
        assert!(deploy.contains(needed), "docs/deploy.md lacks {needed:?}");
    }
}

#[test]
fn the_pipeline_example_deploys_prod_with_a_role_and_the_tested_tool_versions() {
    // scripts/test.sh checks the file against GitHub's workflow schema; this, what it does.
    let workflow = sam_template(&["yaml", "docs/deploy-workflow.example.yml"]);
    assert_eq!(
        workflow["jobs"]["deploy"]["permissions"]["id-token"], "write",
        "OIDC"
    );
    let steps = workflow["jobs"]["deploy"]["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    let script = runs.join("\n");
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    assert!(lines.contains(&"sam build --config-env prod"), "{script}");
    assert!(
        lines.contains(&"sam deploy --config-env prod --no-confirm-changeset"),
        "{script}"
    );
    // No stored keys: the credentials come from assuming the role.
    let sign_in = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
        })
        .expect("a configure-aws-credentials step");
    assert!(sign_in["with"]["role-to-assume"].is_string());
    assert!(sign_in["with"].get("aws-access-key-id").is_none());
    assert!(!script.contains("AWS_SECRET_ACCESS_KEY"));
    let prod = samconfig_environments()
        .into_iter()
        .find(|(name, _)| name == "prod")
        .unwrap()
        .1;
    assert_eq!(
        sign_in["with"]["aws-region"],
        prod["global"]["parameters"]["region"]
    );
    // The SAM CLI and cargo-lambda that scripts/test.sh tests with.
    let requirements =
        std::fs::read_to_string(project_root().join("requirements-dev.txt")).unwrap();
    for tool in ["aws-sam-cli==", "cargo-lambda=="] {
        let pin = requirements
            .lines()
            .find(|l| l.starts_with(tool))
            .unwrap_or_else(|| panic!("requirements-dev.txt pins no {tool}"));
        assert!(
            script.split_whitespace().any(|w| w == pin),
            "the workflow installs another {tool} than {pin}"
        );
    }
}

/// The run scripts of a workflow job's steps, one line each.
fn job_script(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .flat_map(str::lines)
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn the_pipeline_example_runs_every_test_before_it_deploys() {
    let workflow = sam_template(&["yaml", "docs/deploy-workflow.example.yml"]);
    let jobs = &workflow["jobs"];
    let needs: Vec<&str> = match &jobs["deploy"]["needs"] {
        Value::String(job) => vec![job.as_str()],
        Value::Array(jobs) => jobs.iter().filter_map(Value::as_str).collect(),
        other => panic!("the deploy job waits for no job: {other}"),
    };
    assert!(needs.contains(&"test"), "{needs:?}");
    // The whole suite, as CI runs it.
    let script = job_script(&jobs["test"]);
    assert!(
        script
            .iter()
            .any(|l| l == ".ci/run" || l == "scripts/test.sh"),
        "{script:?}"
    );
    // Only the deploy job may ask for the token the deploy role is assumed with.
    for permissions in [&workflow["permissions"], &jobs["test"]["permissions"]] {
        assert!(permissions.get("id-token").is_none(), "{permissions}");
    }
}

/// The JSON block of a document between `<!-- MARKER:start -->` and `<!-- MARKER:end -->`.
fn marked_json(document: &str, marker: &str) -> Value {
    let start = format!("<!-- {marker}:start -->");
    let block = document
        .split(&start)
        .nth(1)
        .and_then(|rest| rest.split(&format!("<!-- {marker}:end -->")).next())
        .unwrap_or_else(|| panic!("no {start}"));
    let json = block
        .trim()
        .strip_prefix("```json")
        .and_then(|b| b.strip_suffix("```"))
        .unwrap_or_else(|| panic!("{marker}: not one json code block"));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{marker}: {e}"))
}

/// GitHub gives a job with an `environment` a token whose subject names the environment,
/// not the branch: a role that trusts `…:ref:refs/heads/main` refuses that job.
#[test]
fn the_deploy_role_trusts_the_subject_github_gives_the_deploy_job() {
    let workflow = sam_template(&["yaml", "docs/deploy-workflow.example.yml"]);
    let environment = workflow["jobs"]["deploy"]["environment"]
        .as_str()
        .expect("the deploy job runs in a GitHub environment");
    let trust = marked_json(&deploy_guide(), "deploy-trust-policy");
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    let provider = statement["Principal"]["Federated"].as_str().unwrap();
    assert!(
        provider.ends_with(":oidc-provider/token.actions.githubusercontent.com"),
        "{provider}"
    );
    // Exact values only: a StringLike wildcard would let other jobs or repositories in.
    let conditions = statement["Condition"].as_object().unwrap();
    assert_eq!(
        conditions.keys().collect::<Vec<_>>(),
        ["StringEquals"],
        "{conditions:?}"
    );
    let equals = &statement["Condition"]["StringEquals"];
    assert_eq!(
        equals["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    assert_eq!(
        equals["token.actions.githubusercontent.com:sub"],
        format!("repo:OWNER/REPO:environment:{environment}")
    );
}

#[test]
fn the_deploy_guides_policy_lets_sam_deploy_each_samconfig_stack() {
    let t = template();
    let policy = marked_json(&deploy_guide(), "deploy-policy");
    // The change set of a template with a transform is also authorized against the transform.
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    assert!(allowed_by(
        &policy,
        "cloudformation:CreateChangeSet",
        "arn:aws:cloudformation:REGION:aws:transform/Serverless-2016-10-31"
    )
    .is_some());
    // resolve_s3: SAM's own stack and bucket for the uploaded code.
    let sam_stack = "arn:aws:cloudformation:REGION:ACCOUNT:stack/aws-sam-cli-managed-default/1a2b";
    let bucket = "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f";
    for action in [
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeStacks",
    ] {
        assert!(allowed_by(&policy, action, sam_stack).is_some(), "{action}");
    }
    for (action, resource) in [
        ("s3:CreateBucket", bucket.to_owned()),
        (
            "s3:PutObject",
            format!("{bucket}/corbado-connect-backend-prod/1a2b"),
        ),
        (
            "s3:GetObject",
            format!("{bucket}/corbado-connect-backend-prod/1a2b"),
        ),
    ] {
        assert!(allowed_by(&policy, action, &resource).is_some(), "{action}");
    }
    for (name, environment) in samconfig_environments() {
        let stack = environment["global"]["parameters"]["stack_name"]
            .as_str()
            .unwrap();
        for action in [
            "cloudformation:CreateChangeSet",
            "cloudformation:DescribeChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DescribeStacks",
            "cloudformation:DescribeStackEvents",
        ] {
            let arn = format!("arn:aws:cloudformation:REGION:ACCOUNT:stack/{stack}/1a2b");
            assert!(
                allowed_by(&policy, action, &arn).is_some(),
                "[{name}] {action}"
            );
        }
        // Creating a function hands it its role: each role the stack creates, to Lambda only.
        // CloudFormation names a role <stack>-<logical id>-<random>, at most 64 characters.
        for f in FUNCTIONS {
            let role_id = resource(&t, f.logical_id)["Properties"]["Role"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap();
            let role_name: String = format!("{stack}-{role_id}-A1B2C3D4E5F6")
                .chars()
                .take(64)
                .collect();
            let condition = allowed_by(
                &policy,
                "iam:PassRole",
                &format!("arn:aws:iam::ACCOUNT:role/{role_name}"),
            )
            .unwrap_or_else(|| panic!("[{name}] no iam:PassRole on {role_name}"));
            assert_eq!(
                condition["StringEquals"]["iam:PassedToService"],
                "lambda.amazonaws.com"
            );
        }
    }
    // Turning on access logging; these actions name no resource.
    for action in ["logs:CreateLogDelivery", "logs:PutResourcePolicy"] {
        assert!(allowed_by(&policy, action, "*").is_some(), "{action}");
    }
}

/// The rows of the first Markdown table in `text`, each as its cells, header and rule left out.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The text of a `## ` section of docs/deploy.md, up to the next one.
fn deploy_guide_section(heading: &str) -> String {
    let guide = deploy_guide();
    let section = guide
        .split(&format!("\n## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/deploy.md has no \"## {heading}\""));
    section.split("\n## ").next().unwrap().to_owned()
}

/// Each variable the functions read has a row saying where the template takes it from, or
/// that no template parameter sets it.
#[test]
fn the_deploy_guides_environment_table_says_where_each_variable_comes_from() {
    let t = template();
    let rows = table_rows(&deploy_guide_section("The functions' environment"));
    let documented: HashMap<String, String> = rows
        .iter()
        .map(|r| (r[0].trim_matches('`').to_owned(), r[1].clone()))
        .collect();
    let read: BTreeSet<&str> = vars::REQUIRED
        .iter()
        .chain(vars::OPTIONAL.iter())
        .chain([&logging::LEVEL_VARS[0]])
        .copied()
        .collect();
    for name in &read {
        assert!(
            documented.contains_key(*name),
            "docs/deploy.md lacks {name}"
        );
    }
    let set = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap();
    for (name, source) in &documented {
        let Some(value) = set.get(name) else {
            assert!(
                source.contains("no template parameter sets it"),
                "{name} is not set by template.yaml, but docs/deploy.md says {source:?}"
            );
            continue;
        };
        let joined = value.get("Fn::Join").map(|j| &j[1]);
        let parameter = joined
            .unwrap_or(value)
            .get("Ref")
            .and_then(Value::as_str)
            .filter(|p| t["Parameters"][*p].is_object());
        match parameter {
            Some(parameter) => assert!(
                source.contains(&format!("`{parameter}`")),
                "{name} comes from the parameter {parameter}, but docs/deploy.md says {source:?}"
            ),
            None => assert!(
                !source.is_empty() && !source.contains("no template parameter"),
                "{name} is set by template.yaml, but docs/deploy.md says {source:?}"
            ),
        }
    }
}

/// docs/deploy.md's table of what each role may do names exactly the role's data actions, so
/// that a grant the code does not need shows in review.
#[test]
fn the_deploy_guide_lists_each_roles_data_actions() {
    let t = template();
    let section = deploy_guide_section("What the stack holds");
    let rows = table_rows(&section);
    for f in FUNCTIONS {
        let row = rows
            .iter()
            .find(|r| r[0] == format!("`{}`", f.logical_id))
            .unwrap_or_else(|| panic!("docs/deploy.md has no row for {}", f.logical_id));
        let listed: BTreeSet<&str> = row[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| w.starts_with("dynamodb:") || w.starts_with("secretsmanager:"))
            .collect();
        let granted: BTreeSet<String> =
            policy_statements(&t, f.logical_id, &parameter_values(&t, &[]))
                .iter()
                .flat_map(actions)
                .filter(|a| a.starts_with("dynamodb:") || a.starts_with("secretsmanager:"))
                .collect();
        let granted: BTreeSet<&str> = granted.iter().map(String::as_str).collect();
        assert_eq!(listed, granted, "{}", f.logical_id);
    }
}

/// The actions active tracing needs. X-Ray has no resource to name, so theirs is the one
/// statement that may allow `"*"`.
const XRAY_ACTIONS: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// A customer-managed KMS key, as `CorbadoApiSecretKmsKeyArn` takes it.
const SAMPLE_KMS_KEY: &str =
    "arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn no_statement_allows_a_wildcard_or_denies_nothing() {
    let t = template();
    for kms_key in ["", SAMPLE_KMS_KEY] {
        let parameters = parameter_values(&t, &[("CorbadoApiSecretKmsKeyArn", kms_key)]);
        for f in FUNCTIONS {
            assert!(resource(&t, f.logical_id)["Properties"]["Policies"].is_null());
            for statement in policy_statements(&t, f.logical_id, &parameters) {
                assert_eq!(statement["Effect"], "Allow");
                let text = statement.to_string();
                if statement["Resource"] == "*" {
                    assert_eq!(
                        actions(&statement),
                        XRAY_ACTIONS,
                        "{}: only X-Ray's actions may have Resource \"*\": {text}",
                        f.logical_id
                    );
                    continue;
                }
                assert!(!text.contains('*'), "{}: wildcard in {text}", f.logical_id);
                let resource_ = &statement["Resource"];
                let expected = match actions(&statement)[0].split(':').next().unwrap() {
                    "logs" => {
                        json!({"Fn::GetAtt": [f.logical_id.replace("Function", "LogGroup"), "Arn"]})
                    }
                    // Query only on the user index: not a scan of the table by another name.
                    "dynamodb" if actions(&statement) == ["dynamodb:Query"] => {
                        json!({"Fn::Sub": format!("${{SessionsTable.Arn}}/index/{}", user_index::NAME)})
                    }
                    "dynamodb" => json!({"Fn::GetAtt": ["SessionsTable", "Arn"]}),
                    "secretsmanager" => json!({"Ref": "CorbadoApiSecretArn"}),
                    "kms" => json!({"Ref": "CorbadoApiSecretKmsKeyArn"}),
                    other => panic!("unexpected service {other}"),
                };
                assert_eq!(resource_, &expected, "{}: {text}", f.logical_id);
            }
        }
    }
}

/// The statements of the function's role that allow a `kms:` action.
fn kms_statements(t: &Value, f: &Function, parameters: &HashMap<String, String>) -> Vec<Value> {
    policy_statements(t, f.logical_id, parameters)
        .into_iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("kms:")))
        .collect()
}

/// A secret under a customer-managed key answers GetSecretValue only to a caller that may
/// decrypt with that key: without the grant every passkey request would answer 500.
#[test]
fn a_customer_managed_secret_key_is_granted_to_the_passkey_roles_only_through_secrets_manager() {
    let t = template();
    assert_eq!(t["Parameters"]["CorbadoApiSecretKmsKeyArn"]["Default"], "");
    for good in [
        "",
        SAMPLE_KMS_KEY,
        "arn:aws:kms:eu-central-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "arn:aws-cn:kms:cn-north-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        assert!(
            parameter_accepts(&t, "CorbadoApiSecretKmsKeyArn", good),
            "{good}"
        );
    }
    for bad in [
        // IAM matches kms:Decrypt against the key's ARN, never an alias's.
        "arn:aws:kms:eu-central-1:111111111111:alias/corbado",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:eu-central-1:111111111111:key/*",
        "arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab/x",
        SAMPLE_SECRET_ARN,
    ] {
        assert!(
            !parameter_accepts(&t, "CorbadoApiSecretKmsKeyArn", bad),
            "{bad}"
        );
    }
    let without = parameter_values(&t, &[]);
    let with = parameter_values(&t, &[("CorbadoApiSecretKmsKeyArn", SAMPLE_KMS_KEY)]);
    for f in FUNCTIONS {
        assert_eq!(
            kms_statements(&t, &f, &without),
            Vec::<Value>::new(),
            "{}: no key, no grant",
            f.logical_id
        );
        let expected = if calls_corbado(&f) {
            // Only through Secrets Manager in the stack's region, and only for this secret
            // (Secrets Manager names it in the encryption context), not for whatever else
            // the key protects.
            vec![json!({
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": {"Ref": "CorbadoApiSecretKmsKeyArn"},
                "Condition": {"StringEquals": {
                    "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
                    "kms:EncryptionContext:SecretARN": {"Ref": "CorbadoApiSecretArn"}
                }}
            })]
        } else {
            vec![]
        };
        assert_eq!(
            kms_statements(&t, &f, &with),
            expected,
            "{} with a customer-managed key",
            f.logical_id
        );
    }
}

#[test]
fn every_function_is_traced_and_its_role_may_send_the_traces() {
    let t = template();
    let tracing = &t["Parameters"]["Tracing"];
    assert_eq!(tracing["Default"], "Active");
    assert_eq!(tracing["AllowedValues"], json!(["Active", "PassThrough"]));
    let cfn = transformed(&[]);
    for f in FUNCTIONS {
        assert_eq!(
            cfn["Resources"][f.logical_id]["Properties"]["TracingConfig"],
            json!({"Mode": {"Ref": "Tracing"}}),
            "{}",
            f.logical_id
        );
        // SAM adds the X-Ray actions only to roles it generates; Lambda refuses active
        // tracing for a role without them.
        for mode in ["Active", "PassThrough"] {
            let parameters = parameter_values(&t, &[("Tracing", mode)]);
            assert!(
                policy_statements(&t, f.logical_id, &parameters)
                    .iter()
                    .any(|s| actions(s) == XRAY_ACTIONS && s["Resource"] == "*"),
                "{}: Tracing={mode}",
                f.logical_id
            );
        }
    }
}

/// (major, minor, patch) of a Rust version such as `1.94.1`.
fn rust_version(text: &str) -> (u32, u32, u32) {
    let parts: Vec<u32> = text
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("not a version: {text}"))
        })
        .collect();
    assert_eq!(parts.len(), 3, "a release, not a channel name: {text}");
    (parts[0], parts[1], parts[2])
}

#[test]
fn the_pinned_toolchain_satisfies_the_workspaces_rust_version() {
    let toolchain = sam_template(&["toml", "rust-toolchain.toml"]);
    let channel = toolchain["toolchain"]["channel"].as_str().unwrap();
    let manifest = sam_template(&["toml", "Cargo.toml"]);
    let needed = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    assert!(
        rust_version(channel) >= rust_version(needed),
        "rust-toolchain.toml pins {channel}, the crates need {needed}"
    );
    // rustfmt and clippy run in scripts/test.sh.
    let components = &toolchain["toolchain"]["components"];
    for component in ["rustfmt", "clippy"] {
        assert!(
            components.as_array().unwrap().contains(&json!(component)),
            "{component}"
        );
    }
}

/// scripts/sam-build.sh installs its tools with install_build_tools, which works on a machine
/// without Java or Node: run here with them left off PATH.
#[test]
fn the_lambda_build_needs_neither_java_nor_node() {
    let root = project_root();
    let script = std::fs::read_to_string(root.join("scripts/sam-build.sh")).unwrap();
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    assert!(lines.contains(&"install_build_tools"), "{script}");
    assert!(!script.contains("install_dev_tools"), "{script}");
    // GNU stat's -c is -f on macOS.
    assert!(!script.contains("stat -c"), "{script}");

    let shadow = std::env::temp_dir().join(format!("no-java-no-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&shadow);
    std::fs::create_dir_all(&shadow).unwrap();
    let path = std::env::var("PATH").unwrap();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if ["java", "node", "npm", "npx"].iter().any(|n| name == *n) {
                continue;
            }
            // The first of a name on PATH wins, as in a shell.
            let _ = std::os::unix::fs::symlink(entry.path(), shadow.join(&name));
        }
    }
    let output = Command::new("bash")
        .arg("-c")
        .arg("source scripts/lib.sh && install_build_tools && command -v sam cargo-lambda")
        .env("PATH", &shadow)
        // The tools are in .venv already (scripts/test.sh installs them): never the network.
        .env("PIP_NO_INDEX", "1")
        .current_dir(&root)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&shadow).unwrap();
    assert!(
        output.status.success(),
        "install_build_tools without Java and Node: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found = String::from_utf8(output.stdout).unwrap();
    let venv = root.join(".venv/bin");
    let found: Vec<&str> = found.lines().collect();
    assert_eq!(found.len(), 2, "{found:?}");
    for tool in found {
        assert!(Path::new(tool).starts_with(&venv), "{tool}");
    }
}

/// Every AWS call that every test recorded ([`integration_tests::aws_calls`]), success,
/// fault and retry paths alike, is allowed by the role of the function that made it; and
/// every data action a role allows was needed by some call. No emulator enforces IAM, so
/// this is where a call only a rare path makes (a login's read-back after a lost write
/// reply) would otherwise first fail: on AWS. scripts/test.sh runs it after the others.
#[test]
#[ignore = "reads the calls every other test recorded: scripts/test.sh runs it after them"]
fn every_recorded_aws_call_is_allowed_by_its_functions_role() {
    use integration_tests::aws_calls::{read_log, LOG_VAR, NO_FUNCTION};
    let log = std::env::var_os(LOG_VAR)
        .unwrap_or_else(|| panic!("{LOG_VAR} names no log: run scripts/test.sh"));
    let calls = read_log(Path::new(&log)).expect("the recorded calls");
    let t = template();
    // With the optional KMS statement in: all the grants a deployment can have.
    let parameters = parameter_values(&t, &[("CorbadoApiSecretKmsKeyArn", SAMPLE_KMS_KEY)]);
    let is_data_action = |a: &str| a.starts_with("dynamodb:") || a.starts_with("secretsmanager:");
    let known: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.logical_id).collect();
    for call in &calls {
        assert!(
            call.function == NO_FUNCTION || known.contains(call.function.as_str()),
            "{call:?}"
        );
    }
    let mut report = Vec::new();
    for f in FUNCTIONS {
        let allowed: BTreeSet<String> = policy_statements(&t, f.logical_id, &parameters)
            .iter()
            .flat_map(actions)
            .filter(|a| is_data_action(a))
            .collect();
        let made: Vec<_> = calls
            .iter()
            .filter(|c| c.function == f.logical_id)
            .collect();
        let called: BTreeSet<String> = made.iter().map(|c| c.action.clone()).collect();
        let denied: Vec<_> = made
            .iter()
            .filter(|c| !allowed.contains(&c.action))
            .map(|c| format!("{} (test {})", c.action, c.test))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert!(
            denied.is_empty(),
            "{}: its role denies calls the tests made: {denied:?}",
            f.logical_id
        );
        let unused: Vec<_> = allowed.difference(&called).collect();
        assert!(
            unused.is_empty(),
            "{}: its role allows {unused:?}, which no test's call needed",
            f.logical_id
        );
        report.push(format!(
            "{}: {} calls, {called:?}",
            f.logical_id,
            made.len()
        ));
    }
    let tests: BTreeSet<&str> = calls.iter().map(|c| c.test.as_str()).collect();
    println!(
        "{} recorded calls from {} tests ({} outside a function's request)\n{}",
        calls.len(),
        tests.len(),
        calls.iter().filter(|c| c.function == NO_FUNCTION).count(),
        report.join("\n")
    );
}
