//! Arbitrary bytes through what the server does with a datagram or stream frame: rsipstack's
//! message parser, then, for a request, the header accessors and our own parsers the
//! registrar runs (digest credentials and challenges, Contact lists, User-Agent, source).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsipstack::sip::prelude::*;
use rsipstack::sip::{self as rsip, Header};
use vcms_digest as digest;
use vcms_server::sip::registrar;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = rsip::SipMessage::try_from(data) else {
        return;
    };
    // What the transport does before the registrar sees it.
    let _ = msg.to_string();
    let rsip::SipMessage::Request(req) = msg else {
        if let rsip::SipMessage::Response(resp) = msg {
            for h in resp.headers.iter() {
                if let Header::WwwAuthenticate(w) = h {
                    let _ = digest::parse_challenge(w.value());
                }
            }
        }
        return;
    };
    let _ = req.top_via_header().and_then(|v| v.typed());
    let _ = req.to_header().and_then(|t| t.typed());
    let _ = req.from_header().and_then(|t| t.typed());
    let _ = req.call_id_header().map(|c| c.value().to_string());
    let _ = req.cseq_header().and_then(|c| c.seq());
    let _ = req.cseq_header().and_then(|c| c.method());
    let _ = req.expires_header().map(|e| e.value().trim().parse::<u32>());
    let _ = registrar::source_of(&req, None);
    if let Some(ua) = req.user_agent_header() {
        let _ = registrar::model_and_version(ua.value());
    }
    if let Some(a) = req.authorization_header() {
        let _ = digest::parse_authorization(a.value());
        let _ = digest::parse_challenge(a.value());
    }
    for h in req.headers.iter() {
        match h {
            Header::Contact(c) => {
                if let Ok(list) = rsip::typed::Contact::parse_header_list(c.value()) {
                    for c in list {
                        let _ = c.expires();
                        let _ = c.uri.to_string();
                        let _ = c.uri.user();
                        let _ = std::net::SocketAddr::try_from(c.uri.host_with_port.clone());
                    }
                }
            }
            Header::WwwAuthenticate(w) => {
                let _ = digest::parse_challenge(w.value());
            }
            Header::UserAgent(u) => {
                let _ = registrar::model_and_version(u.value());
            }
            _ => {}
        }
    }
});
