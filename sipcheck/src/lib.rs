//! Placeholder: replaced by the real checker.
pub struct Policy {
    pub schemes: &'static [&'static str],
    pub supported: &'static [&'static str],
    pub max_len: usize,
}
pub struct Info {
    pub is_request: bool,
}
pub struct Reject {
    pub status: u16,
    pub reason: &'static str,
    pub headers: Vec<(String, String)>,
}
pub enum Verdict {
    Accept(Info),
    Reject(Reject),
    Ignore,
}
pub enum Frame {
    NeedMore,
    Message(usize),
    Bad(Reject),
    Keepalive(usize),
}
pub fn check(msg: &[u8], _policy: &Policy) -> Verdict {
    Verdict::Accept(Info {
        is_request: !msg.starts_with(b"SIP/"),
    })
}
pub fn frame(buf: &[u8], max_len: usize) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::Keepalive(4);
    }
    if buf.starts_with(b"\r\n") {
        return Frame::Keepalive(2);
    }
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > max_len {
            Frame::Bad(Reject { status: 413, reason: "Message Too Large", headers: vec![] })
        } else {
            Frame::NeedMore
        };
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let mut cl = 0usize;
    for l in head.split("\r\n") {
        if let Some((n, v)) = l.split_once(':') {
            let n = n.trim();
            if n == "content-length" || n == "l" {
                cl = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let total = end + 4 + cl;
    if buf.len() >= total {
        Frame::Message(total)
    } else {
        Frame::NeedMore
    }
}
pub fn reply(
    _msg: &[u8],
    _status: u16,
    _reason: &str,
    _headers: &[(String, String)],
    _to_tag: &str,
) -> Option<Vec<u8>> {
    None
}
