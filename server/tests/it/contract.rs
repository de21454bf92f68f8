//! The API contract: the OpenAPI document at `/api/openapi.json` is complete and valid (every
//! `$ref` resolves; an independent validator accepts it), and every query parameter it
//! types is enforced (a value of the wrong type is refused with 422 naming the parameter).

use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use vcms_api::ErrorCode;

async fn document(s: &TestServer) -> Value {
    s.client().get("/api/openapi.json").await.unwrap()
}

/// Every `$ref` in `v`, with the JSON pointer of the object that holds it.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if k == "$ref" {
                    out.push((at.to_string(), item.as_str().unwrap_or_default().into()));
                } else {
                    let k = k.replace('~', "~0").replace('/', "~1");
                    refs(item, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refs(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every `$ref` of the document points into the document itself and resolves: a client
/// generator can follow all of them.
#[tokio::test]
async fn every_ref_resolves() {
    let s = TestServer::start(Db::Sqlite).await;
    let doc = document(&s).await;
    let mut all = vec![];
    refs(&doc, "", &mut all);
    assert!(
        all.len() > 50,
        "only {} references: is the document read?",
        all.len()
    );
    let broken: Vec<String> = all
        .iter()
        .filter(|(_, r)| {
            r.strip_prefix('#')
                .and_then(|ptr| doc.pointer(ptr))
                .is_none()
        })
        .map(|(at, r)| format!("{at}: {r}"))
        .collect();
    assert!(
        broken.is_empty(),
        "references that do not resolve:\n{}",
        broken.join("\n")
    );
}

/// `openapi-spec-validator` (PyPI) accepts the document. Skipped with a note when it is not
/// installed, unless `VCMS_REQUIRE_OPENAPI_VALIDATOR=1` (CI) makes its absence a failure.
#[tokio::test]
async fn independent_validator_accepts_document() {
    let required = std::env::var("VCMS_REQUIRE_OPENAPI_VALIDATOR").as_deref() == Ok("1");
    let s = TestServer::start(Db::Sqlite).await;
    let doc = document(&s).await;
    let path = s.dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = match std::process::Command::new("openapi-spec-validator")
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            eprintln!(
                "note: openapi-spec-validator is not installed (pip install openapi-spec-validator): \
                 the document was not checked by it"
            );
            return;
        }
        Err(e) => panic!("openapi-spec-validator could not run: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Its error repeats the whole document: keep the message readable.
    let short: String = text.chars().take(2000).collect();
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses the document:\n{short}"
    );
}

/// A value of the wrong type for a typed query parameter: an integer, a boolean or an enum.
fn bad_value(doc: &Value, schema: &Value) -> Option<&'static str> {
    let schema = match schema["$ref"].as_str() {
        Some(r) => doc.pointer(r.strip_prefix('#')?)?,
        None => schema,
    };
    if schema.get("enum").is_some() {
        return Some("no-such-value");
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"integer") || types.contains(&"number") {
        Some("abc")
    } else if types.contains(&"boolean") {
        Some("maybe")
    } else {
        None
    }
}

/// Every typed query parameter of every operation in the document is enforced: a value of the
/// wrong type is refused with 422 `invalid_input` naming the parameter, never ignored.
#[tokio::test]
async fn bad_query_parameters_are_refused_naming_them() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, owner) = s.owner("contract@example.com").await;
    let doc = document(&s).await;
    let mut probes = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] != "query" {
                    continue;
                }
                let name = p["name"].as_str().unwrap().to_string();
                if let Some(bad) = bad_value(&doc, &p["schema"]) {
                    let path = path.replace("{id}", "1");
                    probes.push((method.to_uppercase(), format!("{path}?{name}={bad}"), name));
                }
            }
        }
    }
    assert!(
        probes.len() >= 8,
        "only {} typed query parameters: is the document read?",
        probes.len()
    );
    let mut wrong = vec![];
    for (method, url, name) in &probes {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            owner.send::<Value, Value>(method.clone(), url, None),
        )
        .await;
        let got = match r {
            Err(_) => "accepted (a stream started)".to_string(),
            Ok(Ok(_)) => "accepted".to_string(),
            Ok(Err(e))
                if e.status().map(|s| s.as_u16()) == Some(422)
                    && e.code() == ErrorCode::InvalidInput
                    && e.field() == Some(name.as_str()) =>
            {
                assert!(e.to_string().contains(name.as_str()), "{e}");
                continue;
            }
            Ok(Err(e)) => format!(
                "{:?} {} field={:?}: {e}",
                e.status().map(|s| s.as_u16()),
                e.code(),
                e.field()
            ),
        };
        wrong.push(format!("{method} {url}: {got}"));
    }
    assert!(
        wrong.is_empty(),
        "query parameters of the wrong type not refused with 422 naming them:\n{}",
        wrong.join("\n")
    );
}

/// Every request body is a JSON object: a struct written as an array (`[null, null]`, which
/// serde alone would take for a struct of optional fields) is refused with 422, not applied.
#[tokio::test]
async fn request_bodies_must_be_objects() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, owner) = s.owner("objects@example.com").await;
    let before = owner.profile().await.unwrap();
    for (method, path) in [
        (Method::PATCH, "/api/v1/me"),
        (Method::PATCH, "/api/v1/me/security"),
        (Method::POST, "/endpoint/v1/logout"),
    ] {
        let e = err(owner
            .send::<Value, Value>(method.clone(), path, Some(&serde_json::json!([null, null])))
            .await);
        assert_eq!(
            e.status().map(|s| s.as_u16()),
            Some(422),
            "{method} {path}: {e}"
        );
    }
    assert_eq!(owner.profile().await.unwrap(), before);
}

/// JSON Schema calls `3.0` an integer, and so does the document: an id written with a zero
/// fraction (as some JSON encoders write every number) is taken, however large, while a real
/// fraction is refused naming the body.
#[tokio::test]
async fn integral_numbers_are_integers() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, owner) = s.owner("numbers@example.com").await;
    let room: Value = owner
        .post(
            "/api/v1/accounts",
            &serde_json::json!({ "name": "Room", "extension": "1000" }),
        )
        .await
        .unwrap();
    let id = room["id"].as_i64().unwrap();
    let body = format!(r#"{{"ids": [{id}.0, 4060757272025898.0]}}"#);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/accounts/remove", s.url))
        .bearer_auth(owner.token().unwrap())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_ne!(status, 422, "an integral number was refused: {text}");
    let e = err(owner
        .post::<Value, Value>(
            "/api/v1/accounts/remove",
            &serde_json::json!({ "ids": [1.5] }),
        )
        .await);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(422), "{e}");
}

/// The input rules are in the document, so a client can check before it sends: lengths,
/// patterns and closed sets of the request fields the server checks.
#[tokio::test]
async fn document_states_the_input_rules() {
    let s = TestServer::start(Db::Sqlite).await;
    let doc = document(&s).await;
    let prop = |schema: &str, p: &str| {
        doc.pointer(&format!("/components/schemas/{schema}/properties/{p}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let pw = prop("RegisterRequest", "password");
    assert_eq!(
        (pw["minLength"].as_u64(), pw["maxLength"].as_u64()),
        (Some(8), Some(32)),
        "{pw}"
    );
    assert_eq!(prop("NewAccount", "extension")["pattern"], "^[0-9]{4}$");
    assert_eq!(prop("RegisterRequest", "full_name")["maxLength"], 64);
    assert!(prop("InviteRequest", "email")["pattern"].is_string());
    let langs = prop("RegisterRequest", "language")["enum"].clone();
    assert!(
        langs.as_array().unwrap().contains(&Value::from("zh-CN")),
        "{langs}"
    );
    let roles = prop("InviteRequest", "role")["enum"].clone();
    assert_eq!(roles, serde_json::json!(["admin", "helpdesk"]));
    // Unknown fields are ignored, but their strings are checked like the rest.
    assert_eq!(
        doc.pointer("/components/schemas/NewAccount/additionalProperties/$ref"),
        Some(&Value::from("#/components/schemas/JsonValue"))
    );
}

/// The error body of a raw request: (status, `code` exactly as sent).
async fn raw_code(url: String, body: Value) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("a JSON error body");
    (status, v["code"].as_str().unwrap_or_default().to_string())
}

/// Wrong credentials answer the same code on both sign-ins, spelt `invalid_credentials` on
/// the wire (endpoint sign-in answered `credentials_invalid` before).
#[tokio::test]
async fn both_sign_ins_answer_invalid_credentials() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, c) = s.owner("codes@example.com").await;
    let anna = c
        .add_account(&vcms_api::NewAccount {
            name: "Anna".into(),
            extension: "1001".into(),
            email: None,
            send_email: false,
        })
        .await
        .unwrap();
    let admin = raw_code(
        format!("{}/api/v1/login", s.url),
        serde_json::json!({"email": "codes@example.com", "password": "wrong-password"}),
    )
    .await;
    let endpoint = raw_code(
        format!("{}/endpoint/v1/login", s.url),
        serde_json::json!({"cloud_number": anna.cloud_number, "password": "wrong-password"}),
    )
    .await;
    assert_eq!(admin, (401, "invalid_credentials".to_string()));
    assert_eq!(endpoint, (401, "invalid_credentials".to_string()));
    // The typed client reads both as the one code, and still reads the old spelling.
    let e = err(s
        .client()
        .endpoint_login(&vcms_api::EndpointLoginRequest {
            cloud_number: Some(anna.cloud_number.clone()),
            password: Some("wrong-password".into()),
            ..Default::default()
        })
        .await);
    assert_eq!(e.code(), ErrorCode::InvalidCredentials);
    let old: vcms_api::ErrorBody =
        serde_json::from_value(serde_json::json!({"code": "credentials_invalid", "message": "m"}))
            .unwrap();
    assert_eq!(old.code, ErrorCode::InvalidCredentials);
    // A code this client does not know (a newer server) is read, not refused.
    let newer: vcms_api::ErrorBody =
        serde_json::from_value(serde_json::json!({"code": "from_the_future", "message": "m"}))
            .unwrap();
    assert_eq!(newer.code, ErrorCode::Unknown);
}

/// The schema `schema` stands for: itself, or what its `$ref` points to.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} does not resolve")),
        None => schema,
    }
}

/// The `enum` values of property `prop` of schema `name` (following a `$ref`).
fn enum_of(doc: &Value, name: &str, prop: &str) -> Vec<String> {
    let schema = &doc["components"]["schemas"][name]["properties"][prop];
    let values = resolve(doc, schema)["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}.{prop} is not an enum: {schema}"));
    values
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Closed sets are enums in the document: the error code (one spelling per code), roles,
/// statuses, kinds.
#[tokio::test]
async fn closed_sets_are_enums_in_the_document() {
    let s = TestServer::start(Db::Sqlite).await;
    let doc = document(&s).await;
    let codes = enum_of(&doc, "ErrorBody", "code");
    for code in [
        "invalid_credentials",
        "invalid_input",
        "frozen",
        "quota_full",
        "pincode_invalid",
        "session_ended",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} missing: {codes:?}");
    }
    assert!(
        !codes.iter().any(|c| c == "credentials_invalid"),
        "one spelling per code: {codes:?}"
    );
    // Each code says what it means (from its doc comment).
    let about = doc["components"]["schemas"]["ErrorCode"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        about.contains("- `invalid_credentials`: Wrong email and password"),
        "{about}"
    );
    for (schema, prop, want) in [
        ("AccountRow", "status", &["registered", "unregistered"][..]),
        ("AccountDetails", "status", &["registered", "unregistered"]),
        (
            "AccountDetails",
            "pincode_state",
            &["valid", "used", "expired"],
        ),
        ("Profile", "role", &["owner", "admin", "helpdesk"]),
        ("Colleague", "role", &["owner", "admin", "helpdesk"]),
        ("Colleague", "status", &["invited", "active", "disabled"]),
        ("ApiKey", "role", &["owner", "admin", "helpdesk"]),
        ("Quota", "basis", &["trial", "licensed", "expired"]),
        ("License", "status", &["activated", "expired", "revoked"]),
        ("Enterprise", "status", &["pending", "active"]),
        ("SipServer", "transport", &["udp", "tcp", "tls"]),
        (
            "RowPlan",
            "action",
            &["create", "update", "unchanged", "error"],
        ),
        ("ChangeEvent", "kind", &["account_added", "email_failed"]),
        ("DirectoryChange", "kind", &["added", "reload"]),
        ("FailedEmail", "kind", &["account_info", "invitation"]),
    ] {
        let got = enum_of(&doc, schema, prop);
        for w in want {
            assert!(
                got.iter().any(|g| g == w),
                "{schema}.{prop}: {w} not in {got:?}"
            );
        }
    }
}

/// A value outside a closed set (or of the wrong type) inside a body is refused naming the
/// field and what it may be, like every other input rule, not as an anonymous bad body.
#[tokio::test]
async fn a_bad_value_in_a_body_names_its_field() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, owner) = s.owner("fields@example.com").await;
    let e = err(owner
        .post::<Value, Value>(
            "/api/v1/colleagues",
            &serde_json::json!({
                "first_name": "A", "last_name": "B", "email": "ab@example.com", "role": "superuser"
            }),
        )
        .await);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(422), "{e}");
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
    assert_eq!(e.field(), Some("role"), "{e}");
    assert!(e.to_string().contains("helpdesk"), "{e}");
    let e = err(owner
        .post::<Value, Value>(
            "/api/v1/accounts/batch",
            &serde_json::json!({ "rows": [{ "name": "A", "extension": 1234 }] }),
        )
        .await);
    assert_eq!(e.field(), Some("rows[0].extension"), "{e}");
}
