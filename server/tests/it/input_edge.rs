//! Hostile input at the edge: control characters in any string the API takes, paging
//! arithmetic, a huge search, and email addresses the mail transport cannot send to.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::common::*;
use vcms_api::*;

// ---------------- the OpenAPI document as a map of every string input ----------------

fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => s,
    }
}

/// The schema's type, ignoring "null" (OpenAPI 3.1 writes `Option<T>` as `[T, "null"]`).
fn type_of(s: &Value) -> Option<&str> {
    match &s["type"] {
        Value::String(t) if t != "null" => Some(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// Whether a parameter's schema is a string (possibly optional, possibly an enum).
fn is_string_schema(doc: &Value, s: &Value) -> bool {
    let s = resolve(doc, s);
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(vs) = s[key].as_array() {
            return vs.iter().any(|v| is_string_schema(doc, v));
        }
    }
    type_of(s) == Some("string")
}

/// An example value of a schema; every string leaf is listed as (field name as the API
/// reports it, JSON pointer).
fn example(
    doc: &Value,
    s: &Value,
    name: &str,
    ptr: &str,
    leaves: &mut Vec<(String, String)>,
    depth: usize,
) -> Value {
    let s = resolve(doc, s);
    if depth > 8 {
        return Value::Null;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(vs) = s[key].as_array() {
            let pick = vs
                .iter()
                .find(|v| resolve(doc, v)["type"] != json!("null"))
                .unwrap_or(&Value::Null);
            return example(doc, pick, name, ptr, leaves, depth + 1);
        }
    }
    if let Some(vs) = s["allOf"].as_array() {
        let mut obj = serde_json::Map::new();
        for v in vs {
            if let Value::Object(m) = example(doc, v, name, ptr, leaves, depth + 1) {
                obj.extend(m);
            }
        }
        return Value::Object(obj);
    }
    match type_of(s) {
        Some("string") => {
            leaves.push((name.to_string(), ptr.to_string()));
            s["enum"]
                .as_array()
                .and_then(|e| e.first().cloned())
                .unwrap_or_else(|| json!("x"))
        }
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => {
            let item = example(
                doc,
                &s["items"],
                &format!("{name}[0]"),
                &format!("{ptr}/0"),
                leaves,
                depth + 1,
            );
            json!([item])
        }
        _ if s["properties"].is_object() => {
            let mut obj = serde_json::Map::new();
            for (k, v) in s["properties"].as_object().into_iter().flatten() {
                let n = if name.is_empty() {
                    k.clone()
                } else {
                    format!("{name}.{k}")
                };
                obj.insert(
                    k.clone(),
                    example(doc, v, &n, &format!("{ptr}/{k}"), leaves, depth + 1),
                );
            }
            Value::Object(obj)
        }
        _ => Value::Null,
    }
}

/// One hostile request: where the bad value goes and the field the answer must name.
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
    header: Option<(String, String)>,
    field: String,
}

fn pct(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every string field of every operation, with each bad value in turn.
fn probes(doc: &Value, bad: &[&str]) -> Vec<Probe> {
    let mut out = vec![];
    let mut n = 0usize;
    let mut next_bad = |out_of: &[&str]| {
        n += 1;
        out_of[n % out_of.len()].to_string()
    };
    for (route, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
            let is_string = |p: &Value| is_string_schema(doc, &p["schema"]);
            // The route with every path parameter given a harmless value.
            let fill = |except: Option<(&str, &str)>| {
                let mut path = route.clone();
                for p in params.iter().filter(|p| p["in"] == "path") {
                    let name = p["name"].as_str().unwrap();
                    let v = match except {
                        Some((n, v)) if n == name => pct(v),
                        _ if is_string(p) => "x".to_string(),
                        _ => "1".to_string(),
                    };
                    path = path.replace(&format!("{{{name}}}"), &v);
                }
                path
            };
            let mut leaves = vec![];
            let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
            let body_example =
                (!body.is_null()).then(|| example(doc, &body, "", "", &mut leaves, 0));
            for p in params.iter().filter(|p| is_string(p)) {
                let name = p["name"].as_str().unwrap();
                let b = next_bad(bad);
                match p["in"].as_str() {
                    Some("path") => out.push(Probe {
                        method: method.clone(),
                        path: fill(Some((name, &b))),
                        body: body_example.clone(),
                        header: None,
                        field: name.into(),
                    }),
                    Some("query") => out.push(Probe {
                        method: method.clone(),
                        path: format!("{}?{}={}", fill(None), pct(name), pct(&b)),
                        body: body_example.clone(),
                        header: None,
                        field: name.into(),
                    }),
                    // A header cannot carry NUL at all; a tab is the control character it can.
                    Some("header") => out.push(Probe {
                        method: method.clone(),
                        path: fill(None),
                        body: body_example.clone(),
                        header: Some((name.into(), "a\tb".into())),
                        field: name.into(),
                    }),
                    _ => {}
                }
            }
            for (field, ptr) in &leaves {
                for b in ["a\u{0}b".to_string(), next_bad(bad)] {
                    let mut v = body_example.clone().unwrap();
                    *v.pointer_mut(ptr).unwrap() = json!(b);
                    out.push(Probe {
                        method: method.clone(),
                        path: fill(None),
                        body: Some(v),
                        header: None,
                        field: field.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The property: every string field of every operation in the OpenAPI document, given a
/// NUL or another control character (C0, DEL, C1), is refused with 422 naming the field:
/// never a 5xx, never taken.
async fn control_characters_refused_in_every_string_field(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("edge@example.com").await;
    let doc: Value = s.client().get("/api/openapi.json").await.unwrap();
    let bad = [
        "a\u{1}b",
        "\u{1b}[31m",
        "a\nb",
        "a\u{7f}",
        "a\u{85}b",
        "\u{9f}",
        "a\rb",
    ];
    let probes = probes(&doc, &bad);
    assert!(
        probes.len() > 60,
        "only {} probes: is the document read?",
        probes.len()
    );
    let before = s.counts().await;
    let mut wrong = vec![];
    let mut fields = std::collections::BTreeSet::new();
    for p in &probes {
        let headers: Vec<(&str, &str)> = p
            .header
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = c
            .send_with::<Value, Value>(p.method.clone(), &p.path, p.body.as_ref(), &headers)
            .await;
        let got = match &r {
            Ok(_) => "accepted".to_string(),
            Err(e) => format!(
                "{:?} {} field={:?}: {e}",
                e.status().map(|s| s.as_u16()),
                e.code(),
                e.field()
            ),
        };
        match r {
            Err(e)
                if e.status().map(|s| s.as_u16()) == Some(422)
                    && e.field() == Some(p.field.as_str()) =>
            {
                if p.header.is_none() {
                    assert!(e.to_string().contains("control characters"), "{e}");
                }
                fields.insert(format!("{} {}", p.method, p.field));
            }
            _ => wrong.push(format!("{} {} ({}): {got}", p.method, p.path, p.field)),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} probes not refused with 422 naming the field:\n{}",
        wrong.len(),
        probes.len(),
        wrong.join("\n")
    );
    // The fields the issue saw answer 500 on PostgreSQL are among those probed.
    for f in [
        "POST email",
        "POST cloud_number",
        "POST serial",
        "POST builtin.serial",
        "GET search",
        "DELETE serial",
        "POST rows[0].email",
        "PATCH backup_email",
    ] {
        assert!(fields.contains(f), "{f} was not probed: {fields:?}");
    }
    assert_eq!(
        s.counts().await,
        before,
        "a refused request must change nothing"
    );
    // The owner is still signed in and the data is intact.
    c.profile().await.unwrap();
}
both!(control_characters_refused_in_every_string_field);

/// The nine requests the issue saw answer 500 on PostgreSQL, one by one, and the SQLite
/// search that matched every account.
async fn nul_in_the_requests_that_reached_the_database(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("nul@example.com").await;
    for (ext, name) in [("1001", "Anna"), ("1002", "Bo")] {
        c.add_account(&NewAccount {
            name: name.into(),
            extension: ext.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let acct = c.accounts(&AccountQuery::default()).await.unwrap().items[0].id;
    let anon = s.client();
    let nul = "nul\u{0}@example.com";
    let cases: Vec<(&str, vcms_api::client::ClientResult<Value>)> = vec![
        (
            "email",
            anon.post(
                "/api/v1/login",
                &json!({"email": nul, "password": "secret123"}),
            )
            .await,
        ),
        (
            "email",
            anon.post("/api/v1/password/forgot", &json!({"email": nul}))
                .await,
        ),
        (
            "email",
            anon.post("/api/v1/activation/resend", &json!({"email": nul}))
                .await,
        ),
        (
            "cloud_number",
            anon.post(
                "/endpoint/v1/login",
                &json!({"cloud_number": "58\u{0}4921001", "password": "x"}),
            )
            .await,
        ),
        (
            "builtin.serial",
            anon.post(
                "/endpoint/v1/login",
                &json!({"builtin": {"serial": "SN\u{0}1", "secret": "x"}}),
            )
            .await,
        ),
        (
            "serial",
            c.post(
                &format!("/api/v1/accounts/{acct}/devices"),
                &json!({"serial": "SN\u{0}1"}),
            )
            .await,
        ),
        ("search", c.get("/api/v1/accounts?search=%00").await),
        ("search", c.get("/api/v1/audit?search=%00").await),
        (
            "search",
            c.post(
                "/api/v1/accounts/send-email",
                &json!({"all": true, "search": "\u{0}"}),
            )
            .await,
        ),
    ];
    for (field, r) in cases {
        let e = err(r);
        assert_eq!(
            (e.status().map(|s| s.as_u16()), e.field()),
            (Some(422), Some(field)),
            "{e}"
        );
    }
    // A search for text that is in no account matches none (it matched all on SQLite).
    let page = c
        .accounts(&AccountQuery {
            search: Some("zz".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 0);
}
both!(nul_in_the_requests_that_reached_the_database);

/// Paging arithmetic cannot overflow into a negative OFFSET.
async fn paging_cannot_overflow(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("paging@example.com").await;
    let max = i64::MAX;
    let e = err(c
        .get::<AuditPage>(&format!("/api/v1/audit?page={max}&page_size=500"))
        .await);
    assert_eq!(
        (e.status().map(|s| s.as_u16()), e.field()),
        (Some(422), Some("page")),
        "{e}"
    );
    assert!(e.to_string().contains("at most"), "{e}");
    // The last page that can be asked for still answers (empty).
    let last = max / 500;
    let p: AuditPage = c
        .get(&format!("/api/v1/audit?page={last}&page_size=500"))
        .await
        .unwrap();
    assert!(p.items.is_empty());
    let p: AuditPage = c
        .get(&format!("/api/v1/audit?page={max}&page_size=1"))
        .await
        .unwrap();
    assert!(p.items.is_empty());
    // The account table clamps to its last page.
    c.add_account(&NewAccount {
        name: "Anna".into(),
        extension: "1001".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let p: AccountPage = c
        .get(&format!("/api/v1/accounts?page={max}&page_size=100"))
        .await
        .unwrap();
    assert_eq!((p.page, p.items.len()), (1, 1));
    // A number past i64 is a JSON 422 naming the parameter, not a 500.
    let e = err(c
        .get::<AuditPage>("/api/v1/audit?page=99999999999999999999")
        .await);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(422), "{e}");
    assert_eq!(e.field(), Some("page"), "{e}");
}
both!(paging_cannot_overflow);

/// A huge search gets a JSON error: 422 naming the field up to hyper's limit on the request
/// line, and a JSON 414 past it (hyper's own answer had an empty body).
async fn long_search_gets_a_json_error(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("long@example.com").await;
    let token = c.token().unwrap().to_string();
    let addr = s.url.trim_start_matches("http://").to_string();
    for (route, n, status) in [
        ("/api/v1/accounts", 100_000, 414),
        ("/api/v1/audit", 100_000, 414),
        ("/api/v1/accounts", 60_000, 422),
        ("/api/v1/audit", 60_000, 422),
        ("/api/v1/audit", 129, 422),
    ] {
        // A raw socket: HTTP clients refuse to send a URI this long themselves.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let req = format!(
            "GET {route}?search={} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
            "a".repeat(n)
        );
        sock.write_all(req.as_bytes()).await.unwrap();
        let mut answer = vec![];
        sock.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let got: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(got, status, "{route} with {n} characters: {head}");
        assert!(
            head.lines()
                .any(|h| h.eq_ignore_ascii_case("content-type: application/json")),
            "{route} {n}: {head}"
        );
        let body: ErrorBody = serde_json::from_str(body).unwrap();
        if status == 422 {
            assert_eq!(body.field.as_deref(), Some("search"), "{body:?}");
        } else {
            assert_eq!(body.code, ErrorCode::UriTooLong, "{body:?}");
        }
    }
    // The server goes on serving, on a new connection.
    let p: AuditPage = c.get("/api/v1/audit?search=signin").await.unwrap();
    assert!(p.total >= 1);
}
both!(long_search_gets_a_json_error);

fn field_of<T: std::fmt::Debug>(
    r: vcms_api::client::ClientResult<T>,
) -> (Option<u16>, Option<String>) {
    let e = err(r);
    (
        e.status().map(|s| s.as_u16()),
        e.field().map(str::to_string),
    )
}

/// The 11 addresses that were accepted and then failed in the transport as "invalid
/// recipient address", refused with 422 naming the field wherever an email is taken.
async fn unsendable_addresses_refused_where_typed(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("mail@example.com").await;
    let id = c
        .add_account(&NewAccount {
            name: "Anna".into(),
            extension: "1001".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let long_local = format!("{}@x.test", "a".repeat(65));
    let bad = [
        "a,b@x.test",
        "a;b@x.test",
        "a(b)@x.test",
        "a:b@x.test",
        "a\\b@x.test",
        "a[b]@x.test",
        ".a@x.test",
        "a..b@x.test",
        "a\u{200B}b@x.test",
        "a@[1.2.3.4]",
        long_local.as_str(),
    ];
    let before = s.counts().await;
    for addr in bad {
        let want = |f: &str| (Some(422), Some(f.to_string()));
        // Accounts: add and edit.
        let r = c
            .add_account(&NewAccount {
                name: "Bo".into(),
                extension: "1002".into(),
                email: Some(addr.into()),
                send_email: true,
            })
            .await;
        assert_eq!(field_of(r), want("email"), "add account {addr}");
        let r = c
            .update_account(
                id,
                &AccountUpdate {
                    email: Some(addr.into()),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(field_of(r), want("email"), "edit account {addr}");
        // Import: the row is in error (Email column) and nothing is applied.
        let r = c
            .batch_accounts(&BatchRequest {
                rows: vec![BatchRow {
                    name: "Cy".into(),
                    extension: "1003".into(),
                    email: Some(addr.into()),
                    row: Some(7),
                }],
                dry_run: false,
                send_email: true,
            })
            .await
            .unwrap();
        assert!(!r.applied, "import {addr}");
        assert!(
            r.errors.iter().any(|e| e.row == 7 && e.column == "Email"),
            "import {addr}: {:?}",
            r.errors
        );
        // Colleagues.
        let r = c
            .invite(&InviteRequest {
                first_name: "Di".into(),
                last_name: "Li".into(),
                email: addr.into(),
                role: Role::Admin,
                manage_admins: false,
            })
            .await;
        assert_eq!(field_of(r), want("email"), "invite {addr}");
        // Backup email and login email.
        let r = c
            .update_security(&SecurityUpdate {
                current_password: "secret123".into(),
                backup_email: Some(addr.into()),
                ..Default::default()
            })
            .await;
        assert_eq!(field_of(r), want("backup_email"), "backup email {addr}");
        let r = c
            .update_security(&SecurityUpdate {
                current_password: "secret123".into(),
                email: Some(addr.into()),
                ..Default::default()
            })
            .await;
        assert_eq!(field_of(r), want("email"), "login email {addr}");
        // Registration.
        let (cid, answer, pow) = s.captcha().await;
        let mut req = s.register_request(addr, "secret123");
        req.captcha_id = cid;
        req.captcha_answer = answer;
        req.captcha_pow = pow.clone();
        let r = s.client().register(&req).await;
        assert_eq!(field_of(r), want("email"), "register {addr}");
    }
    assert_eq!(s.counts().await, before, "nothing was written");
    assert!(s
        .outbox()
        .await
        .iter()
        .all(|m| !m.recipient.contains("x.test")));
    // What is accepted is sent: the edge cases that stay valid reach the SMTP server.
    for (ext, addr) in [
        ("1010", format!("{}@x.test", "b".repeat(64))),
        ("1011", "o.k+tag@10.0.0.1".to_string()),
    ] {
        c.add_account(&NewAccount {
            name: "Ok".into(),
            extension: ext.into(),
            email: Some(addr.clone()),
            send_email: true,
        })
        .await
        .unwrap();
        let queued = s.outbox().await;
        let m = queued.iter().find(|m| m.recipient == addr).expect("queued");
        s.wait_outbox(m.id, "sent").await;
        assert_eq!(s.smtp.mails_to(&addr).len(), 1, "{addr}");
    }
    let failed = c.failed_emails().await.unwrap();
    assert!(failed.items.is_empty(), "{:?}", failed.items);
}
both!(unsendable_addresses_refused_where_typed);

/// A name made only of invisible characters is no name.
async fn invisible_names_refused(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("inv@example.com").await;
    let zw = "\u{200B}\u{200B}\u{FEFF}";
    let before = s.counts().await;
    let e = err(c
        .add_account(&NewAccount {
            name: zw.into(),
            extension: "1001".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(
        (e.status().map(|s| s.as_u16()), e.field()),
        (Some(422), Some("name")),
        "{e}"
    );
    let e = err(c
        .update_profile(&ProfileUpdate {
            name: Some(zw.into()),
            ..Default::default()
        })
        .await);
    assert_eq!(e.field(), Some("name"), "{e}");
    let (cid, answer, pow) = s.captcha().await;
    let mut req = s.register_request("inv2@example.com", "secret123");
    req.captcha_id = cid;
    req.captcha_answer = answer;
    req.captcha_pow = pow.clone();
    req.full_name = zw.into();
    let e = err(s.client().register(&req).await);
    assert_eq!(e.field(), Some("full_name"), "{e}");
    let r = c
        .batch_accounts(&BatchRequest {
            rows: vec![BatchRow {
                name: zw.into(),
                extension: "1002".into(),
                email: None,
                row: None,
            }],
            dry_run: false,
            send_email: false,
        })
        .await
        .unwrap();
    assert!(
        !r.applied && r.errors.iter().any(|e| e.column == "Name"),
        "{:?}",
        r.errors
    );
    assert_eq!(s.counts().await, before);
    // A joiner inside a real name stays allowed.
    c.add_account(&NewAccount {
        name: "Ana\u{200D}Lu".into(),
        extension: "1003".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}
both!(invisible_names_refused);
