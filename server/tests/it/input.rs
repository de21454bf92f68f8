//! Every input rule of DOMAIN.md: a bad value gets an error naming the field, and nothing in
//! the database changes.

use crate::both;
use crate::common::*;
use vcms_api::*;

async fn registration_input_rules(db: Db) {
    let s = TestServer::start(db).await;
    let long_email = format!("{}@example.com", "a".repeat(120));
    type Mutation = Box<dyn Fn(&mut RegisterRequest)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("full_name", Box::new(|r| r.full_name = "".into())),
        ("full_name", Box::new(|r| r.full_name = "名".repeat(65))),
        ("company", Box::new(|r| r.company = "c".repeat(129))),
        ("company", Box::new(|r| r.company = "  ".into())),
        ("country", Box::new(|r| r.country = "".into())),
        ("email", Box::new(|r| r.email = "anna".into())),
        ("email", Box::new(|r| r.email = "anna@".into())),
        ("email", Box::new(|r| r.email = "an<na@example.com".into())),
        ("email", Box::new(|r| r.email = "an\"na@example.com".into())),
        ("email", Box::new(|r| r.email = "an'na@example.com".into())),
        ("email", Box::new(|r| r.email = "an&na@example.com".into())),
        ("email", Box::new(move |r| r.email = long_email.clone())),
        ("password", Box::new(|r| r.password = "abc1234".into())),
        (
            "password",
            Box::new(|r| r.password = format!("a1{}", "b".repeat(31))),
        ),
        ("password", Box::new(|r| r.password = "abcdefgh".into())),
        ("password", Box::new(|r| r.password = "12345678".into())),
        (
            "language",
            Box::new(|r| r.language = Some("klingon".into())),
        ),
    ];
    let before = s.counts().await;
    for (field, mutate) in &cases {
        let (id, answer, pow) = s.captcha().await;
        let mut req = s.register_request("valid@example.com", "secret123");
        req.captcha_id = id;
        req.captcha_pow = pow;
        req.captcha_answer = answer;
        mutate(&mut req);
        let e = err(s.client().register(&req).await);
        assert_eq!(e.status().unwrap().as_u16(), 422, "{field}: {e}");
        assert_eq!(e.field(), Some(*field), "{e}");
        assert!(
            e.to_string().contains(field),
            "the message names the field: {e}"
        );
    }
    assert_eq!(
        s.counts().await,
        before,
        "a refused registration must change nothing"
    );
    // The edges that are allowed.
    let mut req = s.register_request("u@10.1.2.3", &format!("a1{}", "b".repeat(30)));
    let (id, answer, pow) = s.captcha().await;
    req.captcha_id = id;
    req.captcha_pow = pow;
    req.captcha_answer = answer;
    req.full_name = "名".repeat(64);
    req.company = "c".repeat(128);
    s.client().register(&req).await.unwrap();
}
both!(registration_input_rules);

async fn profile_and_license_input_rules(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("rules@example.com").await;
    let before_profile = c.profile().await.unwrap();
    let before = s.counts().await;
    let bad = [
        (
            "name",
            ProfileUpdate {
                name: Some("".into()),
                ..Default::default()
            },
        ),
        (
            "name",
            ProfileUpdate {
                name: Some("x".repeat(65)),
                ..Default::default()
            },
        ),
        (
            "company",
            ProfileUpdate {
                company: Some("x".repeat(129)),
                ..Default::default()
            },
        ),
        (
            "country",
            ProfileUpdate {
                country: Some(" ".into()),
                ..Default::default()
            },
        ),
        // One bad field spoils the whole edit: the good name is not applied either.
        (
            "country",
            ProfileUpdate {
                name: Some("Good Name".into()),
                country: Some("".into()),
                ..Default::default()
            },
        ),
    ];
    for (field, upd) in bad {
        let e = err(c.update_profile(&upd).await);
        assert_eq!(
            (e.status().unwrap().as_u16(), e.field()),
            (422, Some(field)),
            "{e}"
        );
    }
    assert_eq!(c.profile().await.unwrap(), before_profile);
    for bad in ["", "ABCD", &"A".repeat(25), "OOOOOOOOOOOOOOOOOOOOOOOO"] {
        let e = err(c.add_license(bad).await);
        assert_eq!(e.field(), Some("license_number"), "{bad}: {e}");
    }
    assert_eq!(s.counts().await, before);
    // A body that is not JSON, or misses a field, gets a JSON error too.
    let e = err(c
        .post::<_, Message>("/api/v1/licenses", &serde_json::json!({ "nope": 1 }))
        .await);
    assert_eq!(e.code(), ErrorCode::BadRequest);
    assert!(e.to_string().contains("license_number"), "{e}");
}
both!(profile_and_license_input_rules);

#[tokio::test]
async fn openapi_documents_every_route() {
    let s = TestServer::start(Db::Sqlite).await;
    let doc: serde_json::Value = s.client().get("/api/openapi.json").await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/api/v1/captcha",
        "/api/v1/register",
        "/api/v1/activate",
        "/api/v1/activation/resend",
        "/api/v1/login",
        "/api/v1/logout",
        "/api/v1/password/forgot",
        "/api/v1/password/reset",
        "/api/v1/password/change",
        "/api/v1/me",
        "/api/v1/enterprise",
        "/api/v1/licenses",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["session"].is_object());
    let h = s.client().health().await.unwrap();
    assert_eq!(
        (h.status, h.database),
        (HealthStatus::Ok, DatabaseBackend::Sqlite)
    );
    let e = err(s
        .client()
        .get::<serde_json::Value>("/api/v1/nothing-here")
        .await);
    assert_eq!(e.status().unwrap().as_u16(), 404);
}
