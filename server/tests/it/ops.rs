//! Running it in production, as an operator sees it: the metrics Prometheus scrapes and the
//! request id that ties an answer to its log lines.

use std::time::Duration;

use crate::common::*;
use crate::sip::{new, ua_of};
use vcms_endpoint::Transport;

async fn scrape(base: &str, token: Option<&str>) -> (u16, String) {
    let mut r = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The value of the sample `series` (name and labels exactly as exposed); 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let v = l.strip_prefix(series)?.strip_prefix(' ')?;
            v.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0.0)
}

/// Scrape `base` until `ok` holds of the text (5 s at most); the last text.
async fn scrape_until(base: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(base, None).await.1;
        if ok(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    text
}

/// Counters move with what users and devices do: sign-ins by result, HTTP requests by route
/// pattern and status, emails queued and sent, REGISTERs challenged and accepted, live
/// bindings by transport. The private listener needs no token; the public one wants it.
#[tokio::test]
async fn metrics_move_with_what_users_and_devices_do() {
    let s = TestServer::start_with(Db::Sqlite, Smtp::start(), |c| {
        c.metrics.token = Some("scrape-secret".into());
        c.metrics.listen = Some("127.0.0.1:0".into());
    })
    .await;
    assert_eq!(scrape(&s.url, None).await.0, 401);
    assert_eq!(scrape(&s.url, Some("wrong")).await.0, 401);
    let (code, public) = scrape(&s.url, Some("scrape-secret")).await;
    assert_eq!(code, 200, "{public}");
    assert!(
        public.contains("vcms_process_resident_memory_bytes"),
        "{public}"
    );
    let private = format!("http://{}", s.running.metrics.expect("metrics listener"));
    let (code, before) = scrape(&private, None).await;
    assert_eq!(code, 200);

    let (_, c) = s.owner("ops@example.com").await;
    let wrong = s.login("ops@example.com", "not-the-password").await;
    assert!(wrong.is_err());
    let mut anna = new("Anna", "1001");
    anna.email = Some("anna@example.com".into());
    anna.send_email = true;
    let a = c.add_account(&anna).await.unwrap();
    c.account(a.id).await.unwrap();
    s.smtp.wait_for("anna@example.com", 1).await;
    let mut ua = ua_of(&s, Transport::Udp, &a, None).await;
    let r = ua.register(None).await.unwrap();
    assert_eq!(r.code, 200);

    let failed = "vcms_sign_ins_total{result=\"failed\"}";
    let signed_in = "vcms_sign_ins_total{result=\"ok\"}";
    let login_401 =
        "vcms_http_requests_total{method=\"POST\",route=\"/api/v1/login\",status=\"401\"}";
    let details =
        "vcms_http_requests_total{method=\"GET\",route=\"/api/v1/accounts/{id}\",status=\"200\"}";
    let sent = "vcms_emails_total{result=\"sent\"}";
    let queued = "vcms_emails_total{result=\"queued\"}";
    let reg_ok = "vcms_sip_registrations_total{result=\"ok\"}";
    let challenged = "vcms_sip_registrations_total{result=\"challenged\"}";
    let registers = "vcms_sip_requests_total{method=\"REGISTER\"}";
    let udp = "vcms_sip_bindings{transport=\"udp\"}";
    let after = scrape_until(&private, |t| sample(t, sent) > sample(&before, sent)).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(moved(failed), 1.0, "{after}");
    assert!(moved(signed_in) >= 1.0, "{after}");
    assert_eq!(moved(login_401), 1.0, "{after}");
    assert_eq!(moved(details), 1.0, "{after}");
    assert!(moved(queued) >= 1.0, "{after}");
    assert!(moved(sent) >= 1.0, "{after}");
    assert_eq!(moved(reg_ok), 1.0, "{after}");
    assert_eq!(moved(challenged), 1.0, "{after}");
    assert_eq!(moved(registers), 2.0, "{after}");
    assert_eq!(sample(&after, udp), 1.0, "{after}");
    // Route patterns, never raw paths: an account's id makes no series of its own.
    assert!(
        !after.contains(&format!("/api/v1/accounts/{}\"", a.id)),
        "{after}"
    );
    assert!(
        sample(&after, "vcms_process_resident_memory_bytes") > 1e6,
        "{after}"
    );
    assert!(
        sample(&after, "vcms_db_pool_max_connections") >= 1.0,
        "{after}"
    );
    assert!(
        after.contains("vcms_sip_transactions{state=\"running\"}"),
        "{after}"
    );
    assert!(after.ends_with("# EOF\n"));

    // Unknown paths all count as one route.
    for i in 0..5 {
        let _ = reqwest::get(format!("{}/no/such/{i}", s.url))
            .await
            .unwrap();
    }
    let text = scrape(&private, None).await.1;
    let unmatched = "vcms_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}";
    assert_eq!(sample(&text, unmatched), 5.0, "{text}");
    assert!(!text.contains("/no/such"), "{text}");
}

/// Without `metrics.token`, the public listener has no `/metrics` at all.
#[tokio::test]
async fn metrics_are_not_public_by_default() {
    let s = TestServer::start(Db::Sqlite).await;
    let (code, body) = scrape(&s.url, None).await;
    assert_eq!(code, 404, "{body}");
    assert!(s.running.metrics.is_none());
}

/// Every answer carries `X-Request-Id`: the client's own when it is a sane one, a new one
/// otherwise (a value that could forge a log line is replaced).
#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let s = TestServer::start(Db::Sqlite).await;
    let http = reqwest::Client::new();
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let r = http
        .get(format!("{}/api/openapi.json", s.url))
        .send()
        .await
        .unwrap();
    let first = id_of(&r).expect("a request id");
    assert_eq!(first.len(), 16);
    let r = http
        .post(format!("{}/api/v1/login", s.url))
        .header("X-Request-Id", "lb-7f3a.42")
        .json(&serde_json::json!({"email": "x@example.com", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&r).as_deref(), Some("lb-7f3a.42"));
    let r = http
        .get(format!("{}/api/openapi.json", s.url))
        .header("X-Request-Id", "a b level=ERROR")
        .send()
        .await
        .unwrap();
    let replaced = id_of(&r).unwrap();
    assert_ne!(replaced, "a b level=ERROR");
    assert_ne!(replaced, first);
}

/// The next item of a stream, waiting 3 s at most (another instance polls once a second).
async fn next(
    st: &mut vcms_api::client::EventStream,
) -> Result<
    Option<vcms_api::client::ClientResult<vcms_api::client::StreamItem>>,
    tokio::time::error::Elapsed,
> {
    crate::accounts::next_within(st, Duration::from_secs(3)).await
}

/// Two instances on one PostgreSQL database (they share the secret key): a console signed
/// in on A sees, live, an account added through B and a device registered through B's SIP
/// listener, and A's account details show that device.
#[tokio::test]
async fn a_console_on_one_instance_sees_changes_made_through_another() {
    use vcms_api::client::StreamItem;
    use vcms_api::EventKind;
    let Some(db) = Db::postgres() else { return };
    let a = TestServer::start(db).await;
    let (_, on_a) = a.owner("two@example.com").await;
    let (b, _b_dir) = a.second_instance().await;
    // Sessions live in the database: the one made on A works on B.
    let on_b = vcms_api::client::Client::new(&b.url()).with_token(on_a.token().unwrap());

    let mut live = on_a.events(None).await.unwrap();
    let anna = on_b.add_account(&new("Anna", "1001")).await.unwrap();
    match next(&mut live).await {
        Ok(Some(Ok(StreamItem::Change(ev)))) => {
            assert_eq!(
                (ev.kind, ev.account_id),
                (EventKind::AccountAdded, Some(anna.id))
            )
        }
        other => panic!("A heard nothing of B's new account: {other:?}"),
    }
    let b_udp = b.sip.as_ref().unwrap().udp.unwrap();
    let mut ua = crate::process::udp_ua(b_udp, &anna.cloud_number, &anna.password).await;
    assert_eq!(ua.register(Some(600)).await.unwrap().code, 200);
    loop {
        match next(&mut live).await {
            Ok(Some(Ok(StreamItem::Change(ev)))) if ev.kind == EventKind::BindingChanged => {
                assert_eq!(ev.account_id, Some(anna.id));
                break;
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("A heard nothing of the device registered on B: {other:?}"),
        }
    }
    let seen_on_a = on_a.account(anna.id).await.unwrap();
    assert_eq!(seen_on_a.bindings.len(), 1, "{seen_on_a:?}");
    b.shutdown().await;
}
