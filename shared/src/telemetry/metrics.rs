//! CloudWatch metrics through the Embedded Metric Format: one JSON line per
//! request on stdout, which CloudWatch Logs turns into metrics. No API call,
//! no extra latency, no extra IAM permission.
//!
//! Each line declares:
//! - `Requests` by `Endpoint` and `Code` (`ok` or the error code of the response);
//! - `ServerErrors`, `CorbadoFailures`, `Latency`, and the upstream latencies
//!   `CorbadoLatency` and `DynamoDbLatency` (only when that upstream was called) by `Endpoint`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::http::Endpoint;

pub const DEFAULT_NAMESPACE: &str = "CorbadoConnect";

/// Metric and dimension names, shared with the deployment template's alarms.
pub mod names {
    pub const ENDPOINT: &str = "Endpoint";
    pub const CODE: &str = "Code";
    pub const REQUESTS: &str = "Requests";
    pub const SERVER_ERRORS: &str = "ServerErrors";
    pub const CORBADO_FAILURES: &str = "CorbadoFailures";
    pub const LATENCY: &str = "Latency";
    pub const CORBADO_LATENCY: &str = "CorbadoLatency";
    pub const DYNAMODB_LATENCY: &str = "DynamoDbLatency";
}

/// The `Code` dimension of a successful request.
pub const CODE_OK: &str = "ok";

/// What one request did, as metrics see it.
pub struct RequestOutcome<'a> {
    pub endpoint: Endpoint,
    pub code: &'a str,
    pub status: u16,
    pub corbado_failure: bool,
    pub latency: Duration,
    pub corbado_latency: Option<Duration>,
    pub dynamodb_latency: Option<Duration>,
    pub request_id: Option<&'a str>,
}

/// Where the lines go: stdout in Lambda; a buffer when a test reads them.
#[derive(Clone)]
pub enum MetricsSink {
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

pub struct Metrics {
    namespace: String,
    sink: MetricsSink,
}

impl Metrics {
    pub fn new(namespace: &str, sink: MetricsSink) -> Self {
        Self {
            namespace: namespace.to_owned(),
            sink,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn publish(&self, outcome: &RequestOutcome<'_>) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let line = self.emf_line(outcome, timestamp);
        match &self.sink {
            // One write per line, so a line never interleaves with a log line.
            MetricsSink::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            MetricsSink::Memory(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line.trim_end().to_owned());
                }
            }
        }
    }

    /// The EMF document for `outcome`, newline-terminated.
    pub fn emf_line(&self, outcome: &RequestOutcome<'_>, timestamp_ms: u64) -> String {
        use names::*;
        const MS: &str = "Milliseconds";
        const COUNT: &str = "Count";
        let mut by_endpoint = vec![
            MetricDefinition::new(SERVER_ERRORS, COUNT),
            MetricDefinition::new(CORBADO_FAILURES, COUNT),
            MetricDefinition::new(LATENCY, MS),
        ];
        // EMF requires a value for every declared metric: declare only what was measured.
        if outcome.corbado_latency.is_some() {
            by_endpoint.push(MetricDefinition::new(CORBADO_LATENCY, MS));
        }
        if outcome.dynamodb_latency.is_some() {
            by_endpoint.push(MetricDefinition::new(DYNAMODB_LATENCY, MS));
        }
        let record = EmfRecord {
            aws: Metadata {
                timestamp: timestamp_ms,
                cloud_watch_metrics: [
                    Directive {
                        namespace: &self.namespace,
                        dimensions: &[&[ENDPOINT, CODE]],
                        metrics: &[MetricDefinition::new(REQUESTS, COUNT)],
                    },
                    Directive {
                        namespace: &self.namespace,
                        dimensions: &[&[ENDPOINT]],
                        metrics: &by_endpoint,
                    },
                ],
            },
            endpoint: outcome.endpoint.as_str(),
            code: outcome.code,
            status: outcome.status,
            request_id: outcome.request_id,
            requests: 1,
            server_errors: u8::from(outcome.status >= 500),
            corbado_failures: u8::from(outcome.corbado_failure),
            latency: millis(outcome.latency),
            corbado_latency: outcome.corbado_latency.map(millis),
            dynamodb_latency: outcome.dynamodb_latency.map(millis),
        };
        let mut line = serde_json::to_string(&record).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// Milliseconds with microsecond resolution.
pub(crate) fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[derive(Serialize)]
struct EmfRecord<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(rename = "Endpoint")]
    endpoint: &'a str,
    #[serde(rename = "Code")]
    code: &'a str,
    #[serde(rename = "Status")]
    status: u16,
    /// Not a metric: ties the line to the invocation's log lines.
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(rename = "Requests")]
    requests: u8,
    #[serde(rename = "ServerErrors")]
    server_errors: u8,
    #[serde(rename = "CorbadoFailures")]
    corbado_failures: u8,
    #[serde(rename = "Latency")]
    latency: f64,
    #[serde(rename = "CorbadoLatency", skip_serializing_if = "Option::is_none")]
    corbado_latency: Option<f64>,
    #[serde(rename = "DynamoDbLatency", skip_serializing_if = "Option::is_none")]
    dynamodb_latency: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: u64,
    cloud_watch_metrics: [Directive<'a>; 2],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: &'a [&'a [&'a str]],
    metrics: &'a [MetricDefinition],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDefinition {
    name: &'static str,
    unit: &'static str,
}

impl MetricDefinition {
    const fn new(name: &'static str, unit: &'static str) -> Self {
        Self { name, unit }
    }
}

/// CloudWatch's rule for namespaces: 1–255 of letters, digits and `.-_/#: `,
/// not starting with `:`; `AWS/` is reserved for AWS services.
pub fn is_valid_namespace(namespace: &str) -> bool {
    (1..=255).contains(&namespace.len())
        && !namespace.starts_with(':')
        && !namespace.starts_with("AWS/")
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#: ".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn outcome(corbado: Option<u64>, dynamodb: Option<u64>) -> RequestOutcome<'static> {
        RequestOutcome {
            endpoint: Endpoint::VerifySignedPasskeyData,
            code: "upstream_timeout",
            status: 504,
            corbado_failure: true,
            latency: Duration::from_micros(8_123_456),
            corbado_latency: corbado.map(Duration::from_micros),
            dynamodb_latency: dynamodb.map(Duration::from_micros),
            request_id: Some("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
        }
    }

    fn document(outcome: &RequestOutcome<'_>) -> Value {
        let line = Metrics::new("CorbadoConnect/test", MetricsSink::Stdout)
            .emf_line(outcome, 1_764_115_200_000);
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        serde_json::from_str(&line).unwrap()
    }

    /// The rules of CloudWatch's EMF specification that a line can break.
    fn assert_valid_emf(doc: &Value) {
        let meta = &doc["_aws"];
        assert!(meta["Timestamp"].is_u64());
        for directive in meta["CloudWatchMetrics"].as_array().unwrap() {
            assert!(is_valid_namespace(directive["Namespace"].as_str().unwrap()));
            for set in directive["Dimensions"].as_array().unwrap() {
                for dimension in set.as_array().unwrap() {
                    let name = dimension.as_str().unwrap();
                    assert!(
                        doc[name].is_string(),
                        "dimension {name} has no string value"
                    );
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(doc[name].is_number(), "metric {name} has no value");
            }
        }
    }

    fn declared(doc: &Value) -> Vec<&str> {
        doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["Metrics"].as_array().unwrap())
            .map(|m| m["Name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_line_is_a_valid_emf_document_with_the_outcome() {
        let doc = document(&outcome(Some(8_000_250), Some(1_500)));
        assert_valid_emf(&doc);
        assert_eq!(doc["_aws"]["Timestamp"], 1_764_115_200_000u64);
        assert_eq!(doc["Endpoint"], "verifySignedPasskeyData");
        assert_eq!(doc["Code"], "upstream_timeout");
        assert_eq!(doc["Status"], 504);
        assert_eq!(doc["requestId"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(doc["Requests"], 1);
        assert_eq!(doc["ServerErrors"], 1);
        assert_eq!(doc["CorbadoFailures"], 1);
        assert_eq!(doc["Latency"], 8123.456);
        assert_eq!(doc["CorbadoLatency"], 8000.25);
        assert_eq!(doc["DynamoDbLatency"], 1.5);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Endpoint", "Code"]])
        );
    }

    #[test]
    fn an_upstream_that_was_not_called_is_not_declared() {
        let doc = document(&outcome(None, None));
        assert_valid_emf(&doc);
        assert_eq!(
            declared(&doc),
            ["Requests", "ServerErrors", "CorbadoFailures", "Latency"]
        );
        assert!(doc.get("CorbadoLatency").is_none() && doc.get("DynamoDbLatency").is_none());
    }

    #[test]
    fn namespaces_follow_cloudwatch_rules() {
        for good in ["CorbadoConnect", "CorbadoConnect/my-stack", "a.b_c#d: e"] {
            assert!(is_valid_namespace(good), "{good}");
        }
        for bad in [
            "",
            ":x",
            "AWS/Lambda",
            "AWS\u{e9}",
            "a\nb",
            &"x".repeat(256),
        ] {
            assert!(!is_valid_namespace(bad), "{bad:?}");
        }
    }
}
