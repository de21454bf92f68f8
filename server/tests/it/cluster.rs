//! Several instances on one PostgreSQL database, as devices see them: a device registered
//! on one instance is called from a device registered on another (the whole dialog, by
//! extension and by cloud number), and an account's endpoint limit holds across instances
//! when its devices register on both at once.

use std::net::SocketAddr;
use std::time::Duration;

use crate::calls::{expect, offer, online, ring_and_answer};
use crate::common::*;
use crate::sip::{new, options, wait_details};
use vcms_endpoint::{request_headers, Transport, Ua};
use vcms_server::Running;

fn sip_of(r: &Running, t: Transport) -> SocketAddr {
    let sip = r.sip.as_ref().unwrap();
    match t {
        Transport::Udp => sip.udp,
        Transport::Tcp => sip.tcp,
        Transport::Tls => sip.tls,
    }
    .unwrap()
}

/// A UA of `a` that registers with the instance `on`.
async fn ua_on(
    s: &TestServer,
    on: &Running,
    t: Transport,
    a: &vcms_api::AccountDetails,
    instance: Option<&str>,
) -> Ua {
    let mut o = options(s, t, &a.cloud_number, &a.password, instance);
    o.server = sip_of(on, t);
    Ua::connect(o).await.unwrap()
}

/// Ben registers over TCP on A, Anna over UDP on B. Anna calls Ben through B by extension,
/// then by cloud number: the INVITE reaches Ben over his TCP flow on A, Record-Route names
/// both instances, and ACK, re-INVITE (from the callee) and BYE (from either side) follow
/// the route through both.
#[tokio::test]
async fn a_device_on_one_instance_is_called_from_a_device_on_another() {
    let Some(db) = Db::postgres() else { return };
    let a = TestServer::start(db).await;
    let (_, c) = a.owner("cluster@example.com").await;
    let (b, _b_dir) = a.second_instance().await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut ben_ua = ua_on(
        &a,
        &a.running,
        Transport::Tcp,
        &ben,
        Some("bbbbbbbb-0000-4000-8000-00000000000b"),
    )
    .await;
    let mut anna_ua = ua_on(&a, &b, Transport::Udp, &anna, None).await;
    online(&mut ben_ua).await;
    online(&mut anna_ua).await;
    let a_port = sip_of(&a.running, Transport::Udp).port();
    let b_port = sip_of(&b, Transport::Udp).port();

    for (dialed, callee_hangs_up) in [("1002", false), (ben.cloud_number.as_str(), true)] {
        let a_sdp = offer(&anna_ua, 40100);
        let (mut out, fin) = anna_ua.call(dialed, &a_sdp).await.unwrap();
        assert!(fin.is_none(), "dialing {dialed}: {fin:?}");
        let inv = expect(&mut ben_ua, "INVITE").await;
        assert_eq!(String::from_utf8_lossy(&inv.body), a_sdp);
        let rr = request_headers(&inv, "Record-Route").join(", ");
        assert!(
            rr.contains(&format!(":{a_port}"))
                || rr.contains(&format!(":{}", sip_of(&a.running, Transport::Tcp).port())),
            "A is not on the route: {rr}"
        );
        assert!(
            rr.contains(&format!(":{b_port}")),
            "B is not on the route: {rr}"
        );
        assert!(
            request_headers(&inv, "Proxy-Authorization").is_empty()
                && request_headers(&inv, "X-Vcms-Peer").is_empty(),
            "credentials or the instances' own header reached the callee: {inv}"
        );
        let b_sdp = offer(&ben_ua, 50100);
        let mut ben_d = ring_and_answer(&mut ben_ua, &inv, &b_sdp).await;
        let (r, ad) = anna_ua
            .answer_of(&mut out, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.code, 200, "dialing {dialed}: {}", r.reason);
        assert!(out.provisional.iter().any(|p| p.code == 180));
        expect(&mut ben_ua, "ACK").await;
        let mut anna_d = ad.unwrap();
        // Both show "in a call", read through A.
        wait_details(&c, anna.id, |d| d.in_call).await;
        wait_details(&c, ben.id, |d| d.in_call).await;

        // The callee puts the call on hold: a re-INVITE from Ben reaches Anna.
        let (rb, _) = tokio::join!(ben_ua.request(&mut ben_d, "INVITE", &b_sdp), async {
            let re = expect(&mut anna_ua, "INVITE").await;
            anna_ua.reply(&re, 200, "OK", "", &a_sdp).await.unwrap();
            expect(&mut anna_ua, "ACK").await;
        });
        assert_eq!(rb.unwrap().code, 200);

        if callee_hangs_up {
            let (rb, _) = tokio::join!(ben_ua.request(&mut ben_d, "BYE", ""), async {
                let bye = expect(&mut anna_ua, "BYE").await;
                anna_ua.reply(&bye, 200, "OK", "", "").await.unwrap();
            });
            assert_eq!(rb.unwrap().code, 200);
        } else {
            let (ra, _) = tokio::join!(anna_ua.request(&mut anna_d, "BYE", ""), async {
                let bye = expect(&mut ben_ua, "BYE").await;
                ben_ua.reply(&bye, 200, "OK", "", "").await.unwrap();
            });
            assert_eq!(ra.unwrap().code, 200);
        }
        wait_details(&c, anna.id, |d| !d.in_call).await;
        wait_details(&c, ben.id, |d| !d.in_call).await;
    }
    b.shutdown().await;
}

/// Twelve devices of one account register at once, six on each instance: five are bound
/// and seven refused with the limit's reason, whatever instance they chose.
#[tokio::test]
async fn the_endpoint_limit_holds_across_instances() {
    let Some(db) = Db::postgres() else { return };
    let a = TestServer::start(db).await;
    let (_, c) = a.owner("limit@example.com").await;
    let (b, _b_dir) = a.second_instance().await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let mut uas = Vec::new();
    for i in 0..12 {
        let on = if i % 2 == 0 { &a.running } else { &b };
        let id = format!("aaaaaaaa-0000-4000-8000-{i:012}");
        uas.push(ua_on(&a, on, Transport::Udp, &anna, Some(&id)).await);
    }
    let answers =
        futures_util::future::join_all(uas.iter_mut().map(|ua| ua.register(Some(600)))).await;
    let codes: Vec<u16> = answers.iter().map(|r| r.as_ref().unwrap().code).collect();
    let bound = codes.iter().filter(|c| **c == 200).count();
    assert_eq!(bound, 5, "answers: {codes:?}");
    for r in answers.iter().flatten().filter(|r| r.code != 200) {
        assert_eq!(r.code, 403, "{}", r.reason);
        assert!(r.reason.contains("at most 5"), "{}", r.reason);
    }
    let d = wait_details(&c, anna.id, |d| !d.bindings.is_empty()).await;
    assert_eq!(d.bindings.len(), 5, "{:?}", d.bindings);
    b.shutdown().await;
}

/// Rolling restart, with the real binary: two `vcms-server serve` processes on one
/// PostgreSQL database. While A is sending a batch of account emails and holds Ben's TCP
/// flow, it gets SIGTERM and exits cleanly; Ben's device, its flow gone, registers on B (as
/// a device with both instances in its DNS SRV records does) and Anna reaches him through
/// B; every email goes out exactly once, and the failed list is what it was.
#[test]
fn rolling_restart_moves_devices_and_emails_to_the_other_instance() {
    use crate::process::{add_users, bin, printed_addr, run_env, signed_in, spawn_logged, url_of};
    use std::collections::HashMap;
    use std::time::Instant;
    let Some(db) = Db::postgres() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let smtp = Smtp::start();
    {
        let mut p = smtp.policy.lock().unwrap();
        p.delay_ms = 20;
        p.reject.insert("gone@example.com".into());
    }
    let env = vec![
        ("VCMS_MAIL_TRANSPORT", "smtp".to_string()),
        ("VCMS_SMTP_HOST", "127.0.0.1".to_string()),
        ("VCMS_SMTP_PORT", smtp.port.to_string()),
        ("VCMS_DATABASE_URL", rt.block_on(db.fresh_url(dir_a.path()))),
        ("VCMS_SIP_UDP", "127.0.0.1:0".to_string()),
        ("VCMS_SIP_TCP", "127.0.0.1:0".to_string()),
        ("VCMS_SIP_TLS", "127.0.0.1:0".to_string()),
    ];
    let create = [
        "enterprise",
        "create",
        "--email",
        "roll@example.com",
        "--password",
        "secret123",
        "--name",
        "Roll",
        "--company",
        "Roll Co",
        "--country",
        "NL",
    ];
    let (ok, _, err) = run_env(dir_a.path(), &env, &create);
    assert!(ok, "{err}");
    let (ok, lic, err) = run_env(
        dir_a.path(),
        &env,
        &["license", "issue", "--quantity", "500", "--years", "1"],
    );
    assert!(ok, "{err}");
    std::fs::copy(
        dir_a.path().join("secret.key"),
        dir_b.path().join("secret.key"),
    )
    .unwrap();
    let start = |dir: &std::path::Path| {
        let mut c = bin();
        c.env("VCMS_DATA_DIR", dir)
            .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
            .env("VCMS_LOG", "warn");
        for (k, v) in &env {
            c.env(k, v);
        }
        spawn_logged(c.arg("serve"), &dir.join("server.log"))
    };
    let (mut a, printed_a) = start(dir_a.path());
    let (mut b, printed_b) = start(dir_b.path());
    let (url_a, url_b) = (url_of(&printed_a), url_of(&printed_b));
    let a_tcp = printed_addr(&printed_a, "sip tcp:");
    let b_tcp = printed_addr(&printed_b, "sip tcp:");
    let b_udp = printed_addr(&printed_b, "sip udp:");

    const N: usize = 120;
    let ben_id = "bbbbbbbb-0000-4000-8000-0000000000bb";
    let ua = |server: SocketAddr, t: Transport, a: &vcms_api::AccountDetails, id: Option<&str>| {
        Ua::connect(vcms_endpoint::Options {
            server,
            transport: t,
            domain: "vcms.local".into(),
            user: a.cloud_number.clone(),
            password: a.password.clone(),
            instance: id.map(Into::into),
            user_agent: "Yealink VCDesktop 1.0.50.16".into(),
            tls_ca: None,
            algorithm: vcms_endpoint::Algorithm::Md5,
            contact_addr: None,
        })
    };
    let (c, ben, failed_before, mut anna_ua, ben_on_a) = rt.block_on(async {
        let c = signed_in(&url_a, "roll@example.com").await;
        c.add_license(lic.trim()).await.unwrap();
        let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
        let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
        // One email that fails for good, before the restart.
        let mut gone = new("Gone", "1003");
        gone.email = Some("gone@example.com".into());
        gone.send_email = true;
        c.add_account(&gone).await.unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        let failed_before = loop {
            let f = c.failed_emails().await.unwrap();
            if f.total == 1 {
                break f;
            }
            assert!(
                Instant::now() < until,
                "the failed email never failed: {f:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        add_users(&c, N).await;
        let mut ben_on_a = ua(a_tcp, Transport::Tcp, &ben, Some(ben_id)).await.unwrap();
        online(&mut ben_on_a).await;
        let mut anna_ua = ua(b_udp, Transport::Udp, &anna, None).await.unwrap();
        online(&mut anna_ua).await;
        let sent = c
            .send_account_emails(&vcms_api::SendEmailRequest {
                all: true,
                search: Some("User ".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(sent.queued, N as i64);
        (c, ben, failed_before, anna_ua, ben_on_a)
    });
    drop(c);

    // SIGTERM to A once a third of the batch is out: it stops cleanly.
    let t0 = Instant::now();
    while smtp.inbox.lock().unwrap().len() < N / 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the batch does not go out"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = a.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = a.wait().unwrap();
    assert!(status.success(), "A did not stop cleanly: {status:?}");
    let at_stop = smtp.inbox.lock().unwrap().len();
    assert!(
        at_stop < N + 1,
        "the stop came too late: {at_stop} already out"
    );

    rt.block_on(async {
        // Ben's flow to A is gone; his device registers on B, the same device.
        drop(ben_on_a);
        let mut ben_ua = ua(b_tcp, Transport::Tcp, &ben, Some(ben_id)).await.unwrap();
        online(&mut ben_ua).await;
        let c = signed_in(&url_b, "roll@example.com").await;
        let d = wait_details(&c, ben.id, |d| d.bindings.len() == 1).await;
        assert_eq!(d.bindings.len(), 1, "{:?}", d.bindings);
        // Anna, on B, calls Ben: it rings his device on its new flow.
        let (mut out, _) = anna_ua.call("1002", &offer(&anna_ua, 40200)).await.unwrap();
        let inv = expect(&mut ben_ua, "INVITE").await;
        let b_sdp = offer(&ben_ua, 50200);
        let mut ben_d = ring_and_answer(&mut ben_ua, &inv, &b_sdp).await;
        let (r, _) = anna_ua
            .answer_of(&mut out, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.code, 200, "{}", r.reason);
        expect(&mut ben_ua, "ACK").await;
        let (rb, _) = tokio::join!(ben_ua.request(&mut ben_d, "BYE", ""), async {
            let bye = expect(&mut anna_ua, "BYE").await;
            anna_ua.reply(&bye, 200, "OK", "", "").await.unwrap();
        });
        assert_eq!(rb.unwrap().code, 200);

        // B sends the rest of the batch; nobody gets an email twice.
        let per_recipient = || {
            let mut m: HashMap<String, usize> = HashMap::new();
            for mail in smtp.inbox.lock().unwrap().iter() {
                *m.entry(mail.to[0].clone()).or_default() += 1;
            }
            m
        };
        let until = Instant::now() + Duration::from_secs(60);
        while per_recipient()
            .keys()
            .filter(|k| k.starts_with("user"))
            .count()
            < N
        {
            assert!(
                Instant::now() < until,
                "only {} of {N} emails went out after the stop",
                per_recipient().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let twice: Vec<_> = per_recipient()
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        assert!(twice.is_empty(), "sent twice: {twice:?}");
        let accounts = c.accounts(&Default::default()).await.unwrap();
        assert_eq!(accounts.total, N as i64 + 3);
        let failed_after = c.failed_emails().await.unwrap();
        let ids = |f: &vcms_api::FailedEmailList| {
            f.items
                .iter()
                .map(|e| (e.id, e.recipient.clone(), e.reason.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&failed_after), ids(&failed_before));
    });
    let _ = b.kill();
    let _ = b.wait();
}
