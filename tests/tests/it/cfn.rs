//! What CloudFormation makes of template.yaml (as JSON, `TEMPLATE_JSON`) for a set of
//! parameter values, and what IAM reads in a policy: parameter defaults, conditions and
//! rules, `Fn::If` and `AWS::NoValue`, the resources a deployment creates, a role's
//! statements, and whether a policy allows an action on a resource. As much of both as the
//! template tests (`deployment_template`) need: other intrinsics stay as they are.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};

/// The template's resource `logical_id`.
pub fn resource<'t>(template: &'t Value, logical_id: &str) -> &'t Value {
    let r = &template["Resources"][logical_id];
    assert!(r.is_object(), "template.yaml has no resource {logical_id}");
    r
}

/// The ids of the template's resources of this type.
pub fn resources_of_type<'t>(t: &'t Value, type_: &str) -> BTreeSet<&'t str> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == type_)
        .map(|(id, _)| id.as_str())
        .collect()
}

/// The template's parameter values: the defaults, then `overrides`.
pub fn parameter_values(t: &Value, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut values: HashMap<String, String> = t["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(name, p)| match &p["Default"] {
            Value::String(s) => Some((name.clone(), s.clone())),
            Value::Number(n) => Some((name.clone(), n.to_string())),
            _ => None,
        })
        .collect();
    for (name, value) in overrides {
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    values
}

/// Evaluates a condition of the template, or a rule's condition or assertion (`Fn::And`,
/// `Fn::Or`, `Fn::Not`, `Fn::Equals`, `Ref` to a parameter, a named condition).
pub fn condition_holds(t: &Value, condition: &Value, parameters: &HashMap<String, String>) -> bool {
    let value = |v: &Value| match v.get("Ref").and_then(Value::as_str) {
        Some(name) => parameters
            .get(name)
            .unwrap_or_else(|| panic!("no value for parameter {name}"))
            .clone(),
        None => v.as_str().unwrap().to_owned(),
    };
    let operands = |name: &str| condition[name].as_array().unwrap();
    if let Some(name) = condition.get("Condition").and_then(Value::as_str) {
        assert!(t["Conditions"][name].is_object(), "no condition {name}");
        return condition_holds(t, &t["Conditions"][name], parameters);
    }
    if condition.get("Fn::Or").is_some() {
        return operands("Fn::Or")
            .iter()
            .any(|c| condition_holds(t, c, parameters));
    }
    if condition.get("Fn::And").is_some() {
        return operands("Fn::And")
            .iter()
            .all(|c| condition_holds(t, c, parameters));
    }
    if condition.get("Fn::Not").is_some() {
        return !condition_holds(t, &operands("Fn::Not")[0], parameters);
    }
    let equals = operands("Fn::Equals");
    value(&equals[0]) == value(&equals[1])
}

/// The value of `Fn::If [condition, then, else]` for these parameters; other values as they are.
pub fn chosen<'v>(t: &Value, value: &'v Value, parameters: &HashMap<String, String>) -> &'v Value {
    match value.get("Fn::If").and_then(Value::as_array) {
        Some(branches) => {
            let name = branches[0].as_str().unwrap();
            let condition = json!({ "Condition": name });
            if condition_holds(t, &condition, parameters) {
                &branches[1]
            } else {
                &branches[2]
            }
        }
        None => value,
    }
}

/// `value` as CloudFormation deploys it with these parameters: each `Fn::If` chosen, and
/// `AWS::NoValue` removed (`None` when it is the whole value). Other intrinsics stay as they are.
pub fn deployed(t: &Value, value: &Value, parameters: &HashMap<String, String>) -> Option<Value> {
    if value.get("Fn::If").is_some() {
        return deployed(t, chosen(t, value, parameters), parameters);
    }
    match value {
        Value::Object(map) if map.len() == 1 && map.get("Ref") == Some(&json!("AWS::NoValue")) => {
            None
        }
        Value::Object(map) => Some(Value::Object(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), deployed(t, v, parameters)?)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|v| deployed(t, v, parameters))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// The logical ids of the resources a deployment with these parameters creates.
pub fn created_resources(t: &Value, parameters: &HashMap<String, String>) -> BTreeSet<String> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| match r.get("Condition") {
            Some(name) => condition_holds(t, &json!({ "Condition": name }), parameters),
            None => true,
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// The descriptions of the rules' assertions these parameters fail: CloudFormation then
/// refuses to create or update the stack.
pub fn failed_rules(t: &Value, parameters: &HashMap<String, String>) -> Vec<String> {
    let mut failed = Vec::new();
    for rule in t["Rules"].as_object().unwrap().values() {
        if let Some(condition) = rule.get("RuleCondition") {
            if !condition_holds(t, condition, parameters) {
                continue;
            }
        }
        for assertion in rule["Assertions"].as_array().unwrap() {
            if !condition_holds(t, &assertion["Assert"], parameters) {
                failed.push(assertion["AssertDescription"].as_str().unwrap().to_owned());
            }
        }
    }
    failed
}

/// The statements of the role of the function `logical_id`, as a deployment with these
/// parameters gets them.
pub fn policy_statements(
    t: &Value,
    logical_id: &str,
    parameters: &HashMap<String, String>,
) -> Vec<Value> {
    let role = &resource(t, logical_id)["Properties"]["Role"]["Fn::GetAtt"];
    let role_id = role[0]
        .as_str()
        .expect("the function's Role is a role of this template");
    let policies = deployed(
        t,
        &resource(t, role_id)["Properties"]["Policies"],
        parameters,
    );
    policies
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap().clone())
        .collect()
}

/// The actions a statement names.
pub fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        other => panic!("unexpected Action {other}"),
    }
}

/// Whether one of the policy's statements allows `action` on `resource`, and under which
/// conditions.
pub fn allowed_by<'p>(policy: &'p Value, action: &str, resource: &str) -> Option<&'p Value> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .filter(|s| actions(s).iter().any(|a| a == action))
        .find(|s| {
            let resources = match &s["Resource"] {
                Value::String(r) => vec![r.as_str()],
                Value::Array(rs) => rs.iter().filter_map(Value::as_str).collect(),
                other => panic!("unexpected Resource {other}"),
            };
            resources.iter().any(|r| glob_matches(r, resource))
        })
        .map(|s| &s["Condition"])
}

/// Whether `text` matches an IAM resource pattern, where `*` stands for any characters.
fn glob_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob_matches(rest, &tail[i..]))
        }
    }
}
