//! The input rules of `validate.rs` and the services, written into the OpenAPI document so
//! that a request the document calls valid passes them and one it calls invalid is refused
//! (schemathesis checks both ways). One table, next to the code that enforces each rule.
//!
//! What a schema cannot say is left to prose in the field's description: a license number's
//! check characters, `confirm_password` equal to the new password, and email addresses past
//! their shape (the mail library decides what it can send).

use serde_json::{json, Value};

use crate::validate;

/// How a request field is checked.
enum Rule {
    /// Required: something besides white space (sign-in emails and passwords, tokens).
    Required,
    /// A name-like text of 1 to `max` characters, not only white space or invisible ones.
    Text(u32),
    /// An email address: user@domain or user@IP, at most 128 characters.
    Email,
    /// An email address, or an empty string to clear it.
    EmailOrEmpty,
    /// 8 to 32 characters with letters and digits.
    NewPassword,
    /// Exactly 4 digits.
    Extension,
    /// 24 characters of the license alphabet, in groups of four with dashes or spaces if
    /// wanted.
    LicenseNumber,
    /// A non-empty list.
    NonEmpty,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// 1 to 200 visible ASCII characters.
    IdempotencyKey,
    /// A language: English or Simplified Chinese, in the spellings the server takes.
    Language,
    /// One line of an OpenSSH public key file: type, base64, optional comment.
    SshPublicKey,
}

/// Spellings of the two languages (`validate::language`); empty means English.
const LANGUAGES: &[&str] = &[
    "", "en", "en-US", "en-GB", "zh-CN", "zh", "zh-Hans", "zh_CN",
];

/// (component schema, property, rule). Import rows (`BatchRow`) carry none: the import
/// checks every row and answers each one's problems in its report, all or nothing.
const RULES: &[(&str, &str, Rule)] = &[
    ("RegisterRequest", "full_name", Rule::Text(64)),
    ("RegisterRequest", "company", Rule::Text(128)),
    ("RegisterRequest", "country", Rule::Text(64)),
    ("RegisterRequest", "email", Rule::Email),
    ("RegisterRequest", "password", Rule::NewPassword),
    ("RegisterRequest", "language", Rule::Language),
    ("LoginRequest", "language", Rule::Language),
    ("ProfileUpdate", "language", Rule::Language),
    ("LoginRequest", "email", Rule::Required),
    ("LoginRequest", "password", Rule::Required),
    ("EmailRequest", "email", Rule::Required),
    ("ResetPasswordRequest", "new_password", Rule::NewPassword),
    (
        "ResetPasswordRequest",
        "confirm_password",
        Rule::NewPassword,
    ),
    ("ChangePasswordRequest", "new_password", Rule::NewPassword),
    (
        "ChangePasswordRequest",
        "confirm_password",
        Rule::NewPassword,
    ),
    ("AcceptInvitation", "password", Rule::NewPassword),
    ("AcceptInvitation", "confirm_password", Rule::NewPassword),
    ("ProfileUpdate", "name", Rule::Text(64)),
    ("ProfileUpdate", "company", Rule::Text(128)),
    ("ProfileUpdate", "country", Rule::Text(64)),
    ("AddLicenseRequest", "license_number", Rule::LicenseNumber),
    ("NewAccount", "name", Rule::Text(64)),
    ("NewAccount", "extension", Rule::Extension),
    ("NewAccount", "email", Rule::EmailOrEmpty),
    ("AccountUpdate", "name", Rule::Text(64)),
    ("AccountUpdate", "extension", Rule::Extension),
    ("AccountUpdate", "email", Rule::EmailOrEmpty),
    ("IdList", "ids", Rule::NonEmpty),
    ("InviteRequest", "first_name", Rule::Text(64)),
    ("InviteRequest", "last_name", Rule::Text(64)),
    ("InviteRequest", "email", Rule::Email),
    ("InviteRequest", "role", Rule::OneOf(&["admin", "helpdesk"])),
    ("RoleUpdate", "role", Rule::OneOf(&["admin", "helpdesk"])),
    ("SecurityUpdate", "current_password", Rule::Required),
    ("SecurityUpdate", "email", Rule::Email),
    ("SecurityUpdate", "backup_email", Rule::EmailOrEmpty),
    ("NewApiKey", "name", Rule::Text(64)),
    ("NewSshKey", "public_key", Rule::SshPublicKey),
    ("NewSshKey", "name", Rule::Text(64)),
    (
        "NewApiKey",
        "role",
        Rule::OneOf(&["owner", "admin", "helpdesk"]),
    ),
];

fn constraints(rule: &Rule) -> Value {
    match rule {
        Rule::Required => json!({ "minLength": 1, "pattern": validate::pattern_required() }),
        Rule::Text(max) => json!({
            "minLength": 1,
            "maxLength": max,
            "pattern": validate::pattern_text(),
        }),
        Rule::Email => json!({
            "minLength": 3,
            "maxLength": validate::Email::MAX,
            "pattern": validate::pattern_email(),
        }),
        Rule::EmailOrEmpty => json!({
            "maxLength": validate::Email::MAX,
            "pattern": format!("^$|{}", validate::pattern_email()),
        }),
        Rule::NewPassword => json!({
            "minLength": 8,
            "maxLength": 32,
            "pattern": validate::pattern_password(),
        }),
        Rule::Extension => json!({ "pattern": "^[0-9]{4}$" }),
        Rule::LicenseNumber => json!({ "pattern": crate::license_number::pattern() }),
        Rule::NonEmpty => json!({ "minItems": 1 }),
        Rule::OneOf(values) => json!({ "enum": values }),
        Rule::Language => json!({ "enum": LANGUAGES }),
        Rule::IdempotencyKey => json!({ "pattern": "^[!-~]{1,200}$" }),
        Rule::SshPublicKey => json!({
            "maxLength": 8192,
            "pattern": "^ *(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]{20,}={0,2}( [^\\u0000-\\u001f\\u007f]*)?$",
        }),
    }
}

/// Write every rule into its property (and into the `anyOf`/`oneOf` branch that is a
/// string, for optional fields), into its parameter, and the rules between fields into their
/// schema. A rule whose schema, property or path is not in the document is a mistake here:
/// debug builds say so.
pub fn apply(doc: &mut Value) {
    apply_property_rules(doc);
    apply_parameter_rules(doc);
    apply_cross_field_rules(doc);
}

/// The rules of [`RULES`]: each into its property.
fn apply_property_rules(doc: &mut Value) {
    for (schema, prop, rule) in RULES {
        let ptr = format!("/components/schemas/{schema}/properties/{prop}");
        let Some(target) = doc.pointer_mut(&ptr) else {
            debug_assert!(false, "input rule for a field the document lacks: {ptr}");
            continue;
        };
        let extra = constraints(rule);
        let Some(extra) = extra.as_object() else {
            continue;
        };
        for node in typed_nodes(target) {
            for (k, v) in extra {
                let mut v = v.clone();
                if k == "enum" {
                    enum_replaces_type(node, &mut v);
                }
                node.insert(k.clone(), v);
            }
        }
    }
}

/// An enum replaces the node's type description outright; an optional field keeps null
/// (among the `values` too).
fn enum_replaces_type(node: &mut serde_json::Map<String, Value>, values: &mut Value) {
    let nullable = node
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|ts| ts.contains(&json!("null")));
    node.remove("$ref");
    if nullable {
        node.insert("type".into(), json!(["string", "null"]));
        if let Some(values) = values.as_array_mut() {
            values.push(Value::Null);
        }
    } else {
        node.insert("type".into(), json!("string"));
    }
}

/// The rules of [`PARAMS`]: each into its parameter's schema.
fn apply_parameter_rules(doc: &mut Value) {
    for (path, name, rule) in PARAMS {
        let Some(params) = doc
            .pointer_mut(&format!(
                "/paths/{}",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|item| item.values_mut())
            .filter_map(|op| op.get_mut("parameters").and_then(Value::as_array_mut))
            .next()
        else {
            debug_assert!(false, "input rule for a path the document lacks: {path}");
            continue;
        };
        for p in params.iter_mut().filter(|p| p["name"] == *name) {
            if let (Some(schema), Some(extra)) = (
                p.get_mut("schema").and_then(Value::as_object_mut),
                constraints(rule).as_object(),
            ) {
                schema.extend(extra.clone());
            }
        }
    }
}

/// Rules between fields: an `anyOf` on their schema.
fn apply_cross_field_rules(doc: &mut Value) {
    for (schema, rule) in [
        // The account email is required when it is to be sent.
        (
            "NewAccount",
            json!([
                { "properties": { "send_email": { "const": false } } },
                {
                    "required": ["email"],
                    "properties": { "email": { "type": "string", "minLength": 1 } },
                },
            ]),
        ),
        // send-email: the listed accounts, or all of them.
        (
            "SendEmailRequest",
            json!([
                { "required": ["all"], "properties": { "all": { "const": true } } },
                { "required": ["ids"], "properties": { "ids": { "minItems": 1 } } },
            ]),
        ),
        // manage_admins is a flag of the admin role only.
        ("InviteRequest", admin_flag()),
        ("RoleUpdate", admin_flag()),
        ("NewApiKey", admin_flag()),
    ] {
        if let Some(s) = doc
            .pointer_mut(&format!("/components/schemas/{schema}"))
            .and_then(Value::as_object_mut)
        {
            s.insert("anyOf".into(), rule);
        }
    }
}

fn admin_flag() -> Value {
    json!([
        { "properties": { "manage_admins": { "const": false } } },
        { "properties": { "role": { "const": "admin" } } },
    ])
}

/// (path, parameter, rule) for path, query and header parameters.
const PARAMS: &[(&str, &str, Rule)] = &[
    (
        "/api/v1/accounts/by-extension/{extension}",
        "extension",
        Rule::Extension,
    ),
    (
        "/api/v1/accounts/batch",
        "Idempotency-Key",
        Rule::IdempotencyKey,
    ),
];

/// The nodes of a property schema that describe its non-null value: the schema itself, or
/// its `oneOf`/`anyOf` branches that are not `null`.
fn typed_nodes(v: &mut Value) -> Vec<&mut serde_json::Map<String, Value>> {
    let Some(map) = v.as_object_mut() else {
        return vec![];
    };
    let branches = ["oneOf", "anyOf"]
        .into_iter()
        .find(|k| map.get(*k).is_some_and(Value::is_array));
    match branches {
        Some(k) => map
            .get_mut(k)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
            .filter(|b| b.get("type") != Some(&json!("null")))
            .collect(),
        None => vec![map],
    }
}
