//! Checks raw SIP messages the way RFC 3261 and RFC 4475 require, before a SIP stack sees
//! them.
//!
//! * [`check`] classifies one complete message (a whole UDP datagram, or one message cut
//!   from a stream by [`frame`]): accept it, reject it with a stateless response, or drop
//!   it silently.
//! * [`frame`] finds where the next message of a stream transport ends (RFC 3261 18.3:
//!   Content-Length is mandatory on streams), and recognises RFC 5626 CRLF keepalives.
//! * [`reply`] builds the stateless response to a rejected request by copying Via, From,
//!   To, Call-ID and CSeq from the raw request (RFC 3261 8.2.6.2).
//!
//! Everything works on bytes: SIP messages may carry NULs, non-UTF-8 bodies and UTF-8 in
//! header values. No input can make these functions panic.
//!
//! What is checked for requests, in order (the first failure decides):
//! 1. no Via at all: dropped ([`Verdict::Ignore`]), since no response can be routed;
//! 2. size above [`Policy::max_len`]: 413;
//! 3. Request-Line syntax (`Method SP Request-URI SP SIP-Version`, exactly one SP each,
//!    no LWS in the URI, no `<>`): 400; a well-formed version other than SIP/2.0: 505;
//! 4. header syntax (token name, colon, folding per RFC 3261 7.3.1, no bare CR): 400;
//! 5. To, From, Call-ID, CSeq present, single-valued headers not repeated: 400;
//! 6. CSeq (number below 2^31, method equal to the request method), Call-ID, Max-Forwards
//!    (0..=255), Expires and Min-Expires (below 2^32), Content-Length (digits; body not
//!    shorter; extra octets are ignored): 400;
//! 7. Via (sent-protocol, sent-by, parameters; a branch that is only the magic cookie),
//!    From, To, Contact (name-addr / addr-spec, quoted strings, no LWS inside `<>`, `?`
//!    or `,` only inside `<>`), Require/Proxy-Require tag syntax: 400;
//! 8. Request-URI: scheme syntax, `%` escapes and no headers (`?`) in a SIP URI: 400;
//!    scheme not in [`Policy::schemes`]: 416;
//! 9. REGISTER whose To is not a sip/sips URI: 400 (RFC 4475 3.3.4);
//! 10. Proxy-Require tags, and for [`Policy::uas_methods`] also Require tags, not in
//!     [`Policy::supported`] (never for ACK and CANCEL): 420 with an `Unsupported` header.
//!
//! Date is not checked (RFC 4475 3.1.2.12: don't reject a bad Date you don't use).
//!
//! Max-Forwards is *not* mandatory: RFC 3261 16.3 and RFC 4475 3.4.1 (RFC 2543 syntax)
//! require elements to process requests without it. Unknown methods are accepted: the
//! element above decides between 405 and 501.
//!
//! Deliberate leniencies, where real phones stray from the grammar in ways RFC 4475 does
//! not test: lines may end in a bare LF; Call-ID may hold any visible ASCII; unquoted
//! display names may hold UTF-8; host names may hold `_`.
//!
//! Responses are never answered: a malformed one is [`Verdict::Ignore`]d, a well-formed one
//! is [`Verdict::Accept`]ed with `is_request == false`.
#![forbid(unsafe_code)]

/// What the receiving element supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Request-URI schemes this element serves (compared case-insensitively); others get 416.
    pub schemes: &'static [&'static str],
    /// Option tags this element supports; other tags in Proxy-Require (and in Require, for
    /// the methods in `uas_methods`) get 420.
    pub supported: &'static [&'static str],
    /// Methods this element always answers itself as a UAS (a registrar: REGISTER). Their
    /// Require header is checked against `supported`; for every other method the element
    /// is a proxy and leaves Require to the UAS downstream (RFC 3261 16.3).
    pub uas_methods: &'static [&'static str],
    /// Largest message accepted, in octets (413 above it).
    pub max_len: usize,
}

impl Policy {
    /// `sip`, `sips` and `tel`, no extensions, REGISTER answered locally, 65535 octets.
    pub const DEFAULT: Policy = Policy {
        schemes: &["sip", "sips", "tel"],
        supported: &[],
        uas_methods: &["REGISTER"],
        max_len: 65535,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

/// The outcome of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Well formed: hand it to the SIP stack.
    Accept(Info),
    /// A request that must be answered statelessly with this response (see [`reply`]).
    Reject(Reject),
    /// Drop silently: a broken response, or garbage that carries no Via to answer to.
    Ignore,
}

/// What [`check`] learnt about an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    /// A request (true) or a response (false).
    pub is_request: bool,
    /// The request method, or for a response the method in its CSeq.
    pub method: String,
    /// The status code of a response; 0 for a request.
    pub status: u16,
    /// The Request-URI of a request; empty for a response.
    pub request_uri: String,
    /// The Call-ID value.
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The From tag, if any (RFC 2543 requests may have none).
    pub from_tag: Option<String>,
    /// The To tag, if any.
    pub to_tag: Option<String>,
    /// The branch parameter of the topmost Via, if any.
    pub branch: Option<String>,
    /// Number of Via values (comma-separated values and rows both count).
    pub vias: usize,
    /// Max-Forwards, if present.
    pub max_forwards: Option<u32>,
    /// Expires header, if present.
    pub expires: Option<u32>,
    /// Octets from the start of the message to the start of the body.
    pub header_len: usize,
    /// Body length: Content-Length, or the rest of the datagram when it is absent.
    pub body_len: usize,
    /// Octets after the body that were ignored (UDP datagram longer than Content-Length).
    pub ignored: usize,
}

impl Info {
    /// The message without any ignored trailing octets: `header_len + body_len`.
    pub fn message_len(&self) -> usize {
        self.header_len.saturating_add(self.body_len)
    }
}

/// A stateless response to send instead of processing the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 400, 413, 416, 420 or 505.
    pub status: u16,
    /// The standard reason phrase for `status`.
    pub reason: &'static str,
    /// Extra headers for the response, e.g. `("Unsupported", "foo, bar")` with 420.
    pub headers: Vec<(String, String)>,
    /// Why, for logs (not meant for the wire).
    pub detail: &'static str,
}

impl Reject {
    /// The stateless response to `msg` carrying this rejection: [`reply`] with this status,
    /// reason and headers. None when `msg` cannot be answered (drop it then).
    pub fn reply_to(&self, msg: &[u8], to_tag: &str) -> Option<Vec<u8>> {
        reply(msg, self.status, self.reason, &self.headers, to_tag)
    }

    fn new(status: u16, detail: &'static str) -> Reject {
        Reject {
            status,
            reason: reason_phrase(status),
            headers: Vec::new(),
            detail,
        }
    }
}

/// Where the next message of a stream ends; see [`frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Not enough octets yet.
    NeedMore,
    /// The first `usize` octets are one message, body included.
    Message(usize),
    /// Framing is impossible (missing, repeated or invalid Content-Length, or too large):
    /// answer with [`reply`] if it gives a response, then close the connection.
    Bad(Reject),
    /// A CRLF keepalive (RFC 5626 3.5.1: CRLFCRLF ping, CRLF pong) of this many octets:
    /// skip it (and answer a ping with CRLF).
    Keepalive(usize),
}

/// The standard reason phrase for the statuses this crate produces.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        413 => "Request Entity Too Large",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        505 => "Version Not Supported",
        _ => "Error",
    }
}

// ---------------------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------------------

fn sub(s: &[u8], from: usize, to: usize) -> &[u8] {
    s.get(from..to).unwrap_or(&[])
}

fn tail(s: &[u8], from: usize) -> &[u8] {
    s.get(from..).unwrap_or(&[])
}

fn at(s: &[u8], i: usize) -> Option<u8> {
    s.get(i).copied()
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 3261 25.1 `token`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ws(b)).map_or(start, |i| i + 1);
    sub(s, start, end.max(start))
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while at(s, i).is_some_and(is_ws) {
        i += 1;
    }
    i
}

fn eq_ci(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && eq_ci(sub(s, 0, prefix.len()), prefix)
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Decimal digits only, no sign, no blanks; None on overflow or anything else.
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

fn skip_leading_newlines(msg: &[u8]) -> &[u8] {
    let n = msg
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(msg.len());
    tail(msg, n)
}

/// The end of the header section: `(head_end, body_start)`, where `head_end` is the index
/// of the line break that ends the last header line (or the start line) and `body_start`
/// the first octet after the empty line. Lines end in LF with an optional CR before it.
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        let rel = tail(buf, i).iter().position(|&b| b == b'\n')?;
        let lf = i + rel;
        let next = lf + 1;
        match (at(buf, next), at(buf, next + 1)) {
            (Some(b'\n'), _) => return Some((lf, next + 1)),
            (Some(b'\r'), Some(b'\n')) => return Some((lf, next + 2)),
            _ => {}
        }
        i = next;
    }
    None
}

/// Splits the head (start line + header lines) into lines, dropping the CR before each LF.
fn split_lines(head: &[u8]) -> Vec<&[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Header section
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Header {
    /// Canonical lower-case long name (compact forms expanded), or the raw name lower-cased.
    name: String,
    /// The value with folding replaced by one SP and outer whitespace trimmed.
    value: Vec<u8>,
}

/// RFC 3261 7.3.3 compact forms, plus those registered since.
fn canonical_name(raw: &[u8]) -> String {
    let lower = raw.to_ascii_lowercase();
    let long: &str = match lower.as_slice() {
        b"i" => "call-id",
        b"m" => "contact",
        b"e" => "content-encoding",
        b"l" => "content-length",
        b"c" => "content-type",
        b"f" => "from",
        b"s" => "subject",
        b"k" => "supported",
        b"t" => "to",
        b"v" => "via",
        b"o" => "event",
        b"r" => "refer-to",
        b"b" => "referred-by",
        b"u" => "allow-events",
        b"x" => "session-expires",
        b"y" => "identity",
        b"a" => "accept-contact",
        b"j" => "reject-contact",
        b"d" => "request-disposition",
        b"n" => "identity-info",
        _ => return String::from_utf8_lossy(&lower).into_owned(),
    };
    long.to_string()
}

struct Head<'a> {
    start: &'a [u8],
    headers: Vec<Header>,
    /// First syntax error in the header lines, if any.
    error: Option<&'static str>,
}

/// Parses the start line and header lines leniently: every line that looks like a header
/// is kept, and the first syntax error is remembered.
fn parse_head(head: &[u8]) -> Head<'_> {
    let lines = split_lines(head);
    let mut it = lines.into_iter();
    let start = it.next().unwrap_or(&[]);
    let mut headers: Vec<Header> = Vec::new();
    let mut error = None;
    let note = |e: &'static str, error: &mut Option<&'static str>| {
        if error.is_none() {
            *error = Some(e);
        }
    };
    for line in it {
        if line.contains(&b'\r') {
            note("bare CR in the header section", &mut error);
        }
        if line.first().is_some_and(|&b| is_ws(b)) {
            // Continuation of the previous header (RFC 3261 7.3.1 folding).
            match headers.last_mut() {
                Some(h) => {
                    let more = trim(line);
                    if !more.is_empty() {
                        if !h.value.is_empty() {
                            h.value.push(b' ');
                        }
                        h.value.extend_from_slice(more);
                    }
                }
                None => note("folded line before any header", &mut error),
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            note("header line without a colon", &mut error);
            continue;
        };
        // field-name HCOLON, where HCOLON = *( SP / HTAB ) ":" SWS.
        let name_part = sub(line, 0, colon);
        let raw_name = sub(name_part, 0, name_part.len() - count_trailing_ws(name_part));
        if !is_token(raw_name) {
            note("header name is not a token", &mut error);
            continue;
        }
        headers.push(Header {
            name: canonical_name(raw_name),
            value: trim(tail(line, colon + 1)).to_vec(),
        });
    }
    Head {
        start,
        headers,
        error,
    }
}

fn count_trailing_ws(s: &[u8]) -> usize {
    s.iter().rev().take_while(|&&b| is_ws(b)).count()
}

impl<'a> Head<'a> {
    fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Header> + 's {
        self.headers.iter().filter(move |h| h.name == name)
    }
    fn first(&self, name: &str) -> Option<&Header> {
        self.headers.iter().find(|h| h.name == name)
    }
    fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }
}

// ---------------------------------------------------------------------------------------
// Value grammars
// ---------------------------------------------------------------------------------------

/// A quoted-string starting at `s[i] == '"'`; returns the index after the closing quote.
fn quoted_string_end(s: &[u8], i: usize) -> Result<usize, &'static str> {
    if at(s, i) != Some(b'"') {
        return Err("expected a quoted string");
    }
    let mut j = i + 1;
    loop {
        match at(s, j) {
            None => return Err("unterminated quoted string"),
            Some(b'"') => return Ok(j + 1),
            Some(b'\\') => match at(s, j + 1) {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                Some(c) if c <= 0x7f && c != b'\r' && c != b'\n' => j += 2,
                _ => return Err("bad quoted-pair"),
            },
            // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
            Some(c) if is_ws(c) || c == 0x21 || (0x23..=0x7e).contains(&c) || c >= 0x80 => j += 1,
            Some(_) => return Err("control character in quoted string"),
        }
    }
}

/// Splits at `sep` outside quoted strings and angle brackets.
fn split_top(s: &[u8], sep: u8) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut in_angle = false;
    while i < s.len() {
        match at(s, i) {
            Some(b'"') if !in_angle => {
                // An unterminated quote runs to the end.
                i = quoted_string_end(s, i).unwrap_or(s.len());
                continue;
            }
            Some(b'<') => in_angle = true,
            Some(b'>') => in_angle = false,
            Some(c) if c == sep && !in_angle => {
                parts.push(sub(s, start, i));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(tail(s, start));
    parts
}

/// `gen-value = token / host / quoted-string`, from `s[i]`; returns the end index.
fn gen_value_end(s: &[u8], i: usize) -> Result<usize, &'static str> {
    if at(s, i) == Some(b'"') {
        return quoted_string_end(s, i);
    }
    let mut j = i;
    while at(s, j).is_some_and(|b| is_token_char(b) || b == b':' || b == b'[' || b == b']') {
        j += 1;
    }
    if j == i {
        return Err("empty parameter value");
    }
    Ok(j)
}

/// Parameters as (lower-cased name, value) pairs; the value is empty when absent.
type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// `*( SEMI generic-param )` from `s[i]` to the end.
fn parse_params(s: &[u8], mut i: usize) -> Result<Params, &'static str> {
    let mut params = Vec::new();
    loop {
        i = skip_ws(s, i);
        match at(s, i) {
            None => return Ok(params),
            Some(b';') => {}
            Some(_) => return Err("unexpected text after a value"),
        }
        i = skip_ws(s, i + 1);
        let name_start = i;
        while at(s, i).is_some_and(is_token_char) {
            i += 1;
        }
        if i == name_start {
            return Err("empty parameter");
        }
        let name = sub(s, name_start, i).to_ascii_lowercase();
        let after_name = skip_ws(s, i);
        let mut value = Vec::new();
        if at(s, after_name) == Some(b'=') {
            let v_start = skip_ws(s, after_name + 1);
            let v_end = gen_value_end(s, v_start)?;
            value = sub(s, v_start, v_end).to_vec();
            i = v_end;
        }
        params.push((name, value));
    }
}

fn param<'p>(params: &'p [(Vec<u8>, Vec<u8>)], name: &[u8]) -> Option<&'p [u8]> {
    params
        .iter()
        .find(|(n, _)| n.as_slice() == name)
        .map(|(_, v)| v.as_slice())
}

/// The scheme of an absolute URI, validated (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`).
fn uri_scheme(uri: &[u8]) -> Result<&[u8], &'static str> {
    let colon = uri
        .iter()
        .position(|&b| b == b':')
        .ok_or("URI without a scheme")?;
    let scheme = sub(uri, 0, colon);
    let ok = scheme.first().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    if !ok {
        return Err("bad URI scheme");
    }
    if colon + 1 >= uri.len() {
        return Err("empty URI after the scheme");
    }
    Ok(scheme)
}

struct UriFacts {
    has_headers: bool,
}

/// Checks a URI: scheme syntax, visible ASCII without `<>"` or blanks; for sip/sips also
/// `%HH` escapes, a host, and whether it carries headers (`?` after the userinfo).
fn check_uri(uri: &[u8]) -> Result<UriFacts, &'static str> {
    let scheme = uri_scheme(uri)?;
    if uri
        .iter()
        .any(|&b| b <= 0x20 || b >= 0x7f || b == b'<' || b == b'>' || b == b'"')
    {
        return Err("invalid character in URI");
    }
    let is_sip = eq_ci(scheme, b"sip") || eq_ci(scheme, b"sips");
    if !is_sip {
        return Ok(UriFacts { has_headers: false });
    }
    let rest = tail(uri, scheme.len() + 1);
    // `%` must start an escape: "%" HEXDIG HEXDIG.
    let mut i = 0;
    while i < rest.len() {
        if at(rest, i) == Some(b'%') {
            let hex = |k| at(rest, k).is_some_and(|b: u8| b.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return Err("bad % escape in SIP URI");
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    // userinfo (which may hold '?', ';', '/') ends at the first '@'.
    let hostpart = match rest.iter().position(|&b| b == b'@') {
        Some(a) => tail(rest, a + 1),
        None => rest,
    };
    let host_end = hostpart
        .iter()
        .position(|&b| b == b';' || b == b'?')
        .unwrap_or(hostpart.len());
    let hostport = sub(hostpart, 0, host_end);
    check_hostport(hostport).map_err(|_| "bad host in SIP URI")?;
    Ok(UriFacts {
        has_headers: hostpart.contains(&b'?'),
    })
}

/// `host [ ":" port ]`: hostname / IPv4 / "[" IPv6 "]".
fn check_hostport(hp: &[u8]) -> Result<(), &'static str> {
    let (host, port) = if hp.first() == Some(&b'[') {
        let close = hp.iter().position(|&b| b == b']').ok_or("unclosed [")?;
        let inner = sub(hp, 1, close);
        if inner.is_empty()
            || !inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err("bad IPv6 reference");
        }
        let rest = tail(hp, close + 1);
        match rest.first() {
            None => (sub(hp, 0, close + 1), None),
            Some(b':') => (sub(hp, 0, close + 1), Some(tail(rest, 1))),
            Some(_) => return Err("text after IPv6 reference"),
        }
    } else {
        match hp.iter().position(|&b| b == b':') {
            Some(c) => (sub(hp, 0, c), Some(tail(hp, c + 1))),
            None => (hp, None),
        }
    };
    if host.is_empty() {
        return Err("empty host");
    }
    // Lenient: '_' is let through (seen in real hostnames), though RFC 3261 forbids it.
    if host.first() != Some(&b'[')
        && !host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err("bad host");
    }
    if let Some(p) = port {
        match parse_u64(p) {
            Some(n) if n <= 65535 => {}
            _ => return Err("bad port"),
        }
    }
    Ok(())
}

struct Addr {
    uri: Vec<u8>,
    params: Params,
}

/// `( name-addr / addr-spec ) *( SEMI param )` (From, To, one Contact value).
fn parse_addr(v: &[u8]) -> Result<Addr, &'static str> {
    let i = skip_ws(v, 0);
    let (uri, after) = if at(v, i) == Some(b'"') {
        let end = quoted_string_end(v, i)?;
        let lt = skip_ws(v, end);
        if at(v, lt) != Some(b'<') {
            return Err("display name not followed by <");
        }
        angle_uri(v, lt)?
    } else if let Some(lt) = name_addr_start(v, i) {
        // display-name = *(token LWS): tokens and blanks only. Deliberately lenient: octets
        // of UTF-8 (>= 0x80) are let through, since phones send unquoted non-ASCII names.
        if !sub(v, i, lt)
            .iter()
            .all(|&b| is_token_char(b) || is_ws(b) || b >= 0x80)
        {
            return Err("display name is neither tokens nor a quoted string");
        }
        angle_uri(v, lt)?
    } else {
        let end = v
            .iter()
            .enumerate()
            .skip(i)
            .find(|&(_, &b)| b == b';' || is_ws(b))
            .map_or(v.len(), |(k, _)| k);
        let uri = sub(v, i, end);
        if uri.contains(&b'?') || uri.contains(&b',') {
            return Err("URI with ? or , must be enclosed in <>");
        }
        (uri, end)
    };
    check_uri(uri)?;
    let params = parse_params(v, after)?;
    Ok(Addr {
        uri: uri.to_vec(),
        params,
    })
}

/// The `<` of a name-addr without a quoted display name: the first `<` that comes before
/// any `;` (after a `;` we are in the parameters of an addr-spec, whose quoted values may
/// hold `<`).
fn name_addr_start(v: &[u8], from: usize) -> Option<usize> {
    let k = tail(v, from).iter().position(|&b| b == b'<' || b == b';')?;
    (at(v, from + k) == Some(b'<')).then_some(from + k)
}

/// The URI between `<` at `v[lt]` and the next `>`; no blanks allowed inside.
fn angle_uri(v: &[u8], lt: usize) -> Result<(&[u8], usize), &'static str> {
    let gt = tail(v, lt)
        .iter()
        .position(|&b| b == b'>')
        .map(|k| lt + k)
        .ok_or("< without >")?;
    let uri = sub(v, lt + 1, gt);
    if uri.is_empty() {
        return Err("empty <>");
    }
    if uri.iter().any(|&b| is_ws(b)) {
        return Err("blank inside <>");
    }
    Ok((uri, gt + 1))
}

/// One `via-parm` (RFC 3261 20.42); returns its branch, if any.
fn parse_via(v: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
    let mut i = skip_ws(v, 0);
    // sent-protocol = protocol-name SLASH protocol-version SLASH transport
    for k in 0..3 {
        let start = i;
        while at(v, i).is_some_and(is_token_char) {
            i += 1;
        }
        if i == start {
            return Err("bad Via sent-protocol");
        }
        if k < 2 {
            i = skip_ws(v, i);
            if at(v, i) != Some(b'/') {
                return Err("bad Via sent-protocol");
            }
            i = skip_ws(v, i + 1);
        }
    }
    let before = i;
    i = skip_ws(v, i);
    if i == before {
        return Err("no blank before Via sent-by");
    }
    // sent-by = host [ COLON port ]
    let host_start = i;
    if at(v, i) == Some(b'[') {
        while at(v, i).is_some_and(|b| b != b']') {
            i += 1;
        }
        i += 1;
    } else {
        while at(v, i).is_some_and(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
            i += 1;
        }
    }
    let mut hostport = sub(v, host_start, i).to_vec();
    let j = skip_ws(v, i);
    if at(v, j) == Some(b':') {
        let p_start = skip_ws(v, j + 1);
        let mut p_end = p_start;
        while at(v, p_end).is_some_and(|b| b.is_ascii_digit()) {
            p_end += 1;
        }
        hostport.push(b':');
        hostport.extend_from_slice(sub(v, p_start, p_end));
        i = p_end;
    }
    check_hostport(&hostport).map_err(|_| "bad Via sent-by")?;
    let params = parse_params(v, i).map_err(|_| "bad Via parameters")?;
    let branch = param(&params, b"branch").map(<[u8]>::to_vec);
    if let Some(b) = &branch {
        if b.is_empty() || !is_token(b) {
            return Err("bad Via branch");
        }
        if b.as_slice() == b"z9hG4bK" {
            return Err("Via branch is the magic cookie without a transaction id");
        }
    }
    Ok(branch)
}

/// `callid = word [ "@" word ]`, read liberally: any visible ASCII (stacks put `=`, `#`
/// and more in Call-IDs; RFC 4475 has no Call-ID that this would wrongly accept), but no
/// blanks, controls or non-ASCII.
fn valid_call_id(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|&b| (0x21..=0x7e).contains(&b))
}

/// `CSeq = 1*DIGIT LWS Method`; the number must be below 2^31 (RFC 3261 8.1.1.5).
fn parse_cseq(v: &[u8]) -> Result<(u32, &[u8]), &'static str> {
    let digits_end = v
        .iter()
        .position(|b| !b.is_ascii_digit())
        .ok_or("CSeq without a method")?;
    let n = parse_u64(sub(v, 0, digits_end)).ok_or("bad CSeq number")?;
    let m_start = skip_ws(v, digits_end);
    if m_start == digits_end {
        return Err("bad CSeq");
    }
    let method = tail(v, m_start);
    if !is_token(method) {
        return Err("bad CSeq method");
    }
    match u32::try_from(n) {
        Ok(n) if n < 0x8000_0000 => Ok((n, method)),
        _ => Err("CSeq number out of range"),
    }
}

/// Comma-separated option tags.
fn option_tags(v: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    v.split(|&b| b == b',')
        .map(trim)
        .map(|t| {
            if is_token(t) {
                Ok(t)
            } else {
                Err("bad option tag")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Start lines
// ---------------------------------------------------------------------------------------

enum Version {
    V2,
    Other,
    Bad,
}

fn version(v: &[u8]) -> Version {
    if !starts_with_ci(v, b"SIP/") {
        return Version::Bad;
    }
    let rest = tail(v, 4);
    let Some(dot) = rest.iter().position(|&b| b == b'.') else {
        return Version::Bad;
    };
    let (major, minor) = (sub(rest, 0, dot), tail(rest, dot + 1));
    if parse_u64(major).is_none() || parse_u64(minor).is_none() {
        return Version::Bad;
    }
    if major == b"2" && minor == b"0" {
        Version::V2
    } else {
        Version::Other
    }
}

struct RequestLine<'a> {
    method: &'a [u8],
    uri: &'a [u8],
}

fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, Reject> {
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let bad = |d| Err(Reject::new(400, d));
    let [method, uri, ver] = parts.as_slice() else {
        return bad("Request-Line is not Method SP Request-URI SP SIP-Version");
    };
    if !is_token(method) {
        return bad("method is not a token");
    }
    if uri.is_empty()
        || uri
            .iter()
            .any(|&b| b <= 0x20 || b >= 0x7f || b == b'<' || b == b'>' || b == b'"')
    {
        return bad("invalid Request-URI");
    }
    match version(ver) {
        Version::V2 => {}
        Version::Other => return Err(Reject::new(505, "SIP version other than 2.0")),
        Version::Bad => return bad("bad SIP-Version in Request-Line"),
    }
    Ok(RequestLine { method, uri })
}

/// `SIP-Version SP 3DIGIT SP Reason-Phrase` with the code in 100..=699.
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let sp = line.iter().position(|&b| b == b' ')?;
    if !matches!(version(sub(line, 0, sp)), Version::V2) {
        return None;
    }
    let rest = tail(line, sp + 1);
    let code = sub(rest, 0, 3);
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match at(rest, 3) {
        None | Some(b' ') => {}
        Some(_) => return None,
    }
    let n = u16::try_from(parse_u64(code)?).ok()?;
    (100..=699).contains(&n).then_some(n)
}

// ---------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------

/// Headers that RFC 3261 defines as single-valued; a second row is a 400.
const SINGLE: &[&str] = &[
    "from",
    "to",
    "call-id",
    "cseq",
    "max-forwards",
    "content-length",
    "content-type",
    "expires",
    "min-expires",
    "date",
];

/// What the common header checks found.
struct Common {
    call_id: Vec<u8>,
    cseq: u32,
    cseq_method: Vec<u8>,
    max_forwards: Option<u32>,
    expires: Option<u32>,
    header_len: usize,
    body_len: usize,
    ignored: usize,
    branch: Option<Vec<u8>>,
    vias: usize,
}

impl Common {
    /// What the common checks found as an [`Info`] of a response without its status and
    /// tags: the caller sets what is its own.
    fn info(&self) -> Info {
        Info {
            is_request: false,
            method: lossy(&self.cseq_method),
            status: 0,
            request_uri: String::new(),
            call_id: lossy(&self.call_id),
            cseq: self.cseq,
            from_tag: None,
            to_tag: None,
            branch: self.branch.as_deref().map(lossy),
            vias: self.vias,
            max_forwards: self.max_forwards,
            expires: self.expires,
            header_len: self.header_len,
            body_len: self.body_len,
            ignored: self.ignored,
        }
    }
}

/// The headers every message needs are there, and the single-valued ones once.
fn check_header_counts(head: &Head<'_>) -> Result<(), &'static str> {
    if let Some(e) = head.error {
        return Err(e);
    }
    for name in ["via", "from", "to", "call-id", "cseq"] {
        if head.count(name) == 0 {
            return Err("missing To, From, Call-ID, CSeq or Via");
        }
    }
    for name in SINGLE {
        if head.count(name) > 1 {
            return Err("single-valued header repeated");
        }
    }
    Ok(())
}

/// Max-Forwards (0 to 255), when there is one.
fn max_forwards(head: &Head<'_>) -> Result<Option<u32>, &'static str> {
    match head.first("max-forwards") {
        None => Ok(None),
        Some(h) => match parse_u64(&h.value) {
            Some(n) if n <= 255 => Ok(u32::try_from(n).ok()),
            _ => Err("bad Max-Forwards"),
        },
    }
}

/// Expires, when there is one; Expires and Min-Expires must both be numbers.
fn expires(head: &Head<'_>) -> Result<Option<u32>, &'static str> {
    let mut expires = None;
    for name in ["expires", "min-expires"] {
        if let Some(h) = head.first(name) {
            match parse_u64(&h.value).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => {
                    if name == "expires" {
                        expires = Some(n);
                    }
                }
                None => return Err("bad Expires"),
            }
        }
    }
    Ok(expires)
}

/// The body's length: Content-Length (no more than the `available` octets), else all.
fn body_len(head: &Head<'_>, available: usize) -> Result<usize, &'static str> {
    match head.first("content-length") {
        None => Ok(available),
        Some(h) => {
            let n = parse_u64(&h.value)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or("bad Content-Length")?;
            if n > available {
                return Err("body shorter than Content-Length");
            }
            Ok(n)
        }
    }
}

/// The topmost Via's branch and how many Via values there are.
fn vias(head: &Head<'_>) -> Result<(Option<Vec<u8>>, usize), &'static str> {
    let mut branch = None;
    let mut vias = 0;
    for h in head.all("via") {
        for part in split_top(&h.value, b',') {
            let b = parse_via(part)?;
            if vias == 0 {
                branch = b;
            }
            vias += 1;
        }
    }
    Ok((branch, vias))
}

/// Checks shared by requests and responses; `Err(detail)` means malformed.
fn common(head: &Head<'_>, msg: &[u8], body_start: usize) -> Result<Common, &'static str> {
    check_header_counts(head)?;
    let call_id = head
        .first("call-id")
        .map(|h| h.value.clone())
        .unwrap_or_default();
    if !valid_call_id(&call_id) {
        return Err("bad Call-ID");
    }
    let cseq_h = head
        .first("cseq")
        .map(|h| h.value.as_slice())
        .unwrap_or(&[]);
    let (cseq, cseq_method) = parse_cseq(cseq_h)?;
    let max_forwards = max_forwards(head)?;
    let expires = expires(head)?;
    let available = msg.len().saturating_sub(body_start);
    let body_len = body_len(head, available)?;
    let (branch, vias) = vias(head)?;
    Ok(Common {
        call_id,
        cseq,
        cseq_method: cseq_method.to_vec(),
        max_forwards,
        expires,
        header_len: body_start,
        body_len,
        ignored: available - body_len,
        branch,
        vias,
    })
}

fn tag_of(head: &Head<'_>, name: &str) -> Option<String> {
    let h = head.first(name)?;
    let addr = parse_addr(&h.value).ok()?;
    param(&addr.params, b"tag").map(lossy)
}

/// Checks one complete SIP message: a whole UDP datagram, or one message that [`frame`]
/// cut from a stream.
pub fn check(msg: &[u8], policy: &Policy) -> Verdict {
    let original_len = msg.len();
    let msg = skip_leading_newlines(msg);
    if msg.is_empty() {
        return Verdict::Ignore;
    }
    let skipped = original_len - msg.len();
    let (head_bytes, body_start, terminated) = match find_head_end(msg) {
        Some((end, body)) => (sub(msg, 0, end), body, true),
        None => (msg, msg.len(), false),
    };
    let head = parse_head(head_bytes);
    let verdict = if starts_with_ci(head.start, b"SIP/") {
        check_response(&head, msg, body_start, terminated, policy)
    } else if head.count("via") == 0 {
        // Without a Via there is nowhere to send a response (RFC 3261 18.2.2): drop.
        Verdict::Ignore
    } else {
        match check_request(&head, msg, body_start, terminated, policy) {
            Ok(info) => Verdict::Accept(info),
            Err(r) => Verdict::Reject(r),
        }
    };
    match verdict {
        Verdict::Accept(mut info) => {
            // Offsets count from the caller's first octet, leading CRLFs included.
            info.header_len = info.header_len.saturating_add(skipped);
            Verdict::Accept(info)
        }
        other => other,
    }
}

fn check_response(
    head: &Head<'_>,
    msg: &[u8],
    body_start: usize,
    terminated: bool,
    policy: &Policy,
) -> Verdict {
    if msg.len() > policy.max_len || !terminated {
        return Verdict::Ignore;
    }
    let Some(status) = parse_status_line(head.start) else {
        return Verdict::Ignore;
    };
    let Ok(c) = common(head, msg, body_start) else {
        return Verdict::Ignore;
    };
    Verdict::Accept(Info {
        status,
        from_tag: tag_of(head, "from"),
        to_tag: tag_of(head, "to"),
        ..c.info()
    })
}

fn check_request(
    head: &Head<'_>,
    msg: &[u8],
    body_start: usize,
    terminated: bool,
    policy: &Policy,
) -> Result<Info, Reject> {
    let bad = |d: &'static str| Reject::new(400, d);
    if msg.len() > policy.max_len {
        return Err(Reject::new(413, "message larger than the policy allows"));
    }
    let rl = parse_request_line(head.start)?;
    if !terminated {
        return Err(bad("no empty line after the header section"));
    }
    let c = common(head, msg, body_start).map_err(bad)?;
    if c.cseq_method.as_slice() != rl.method {
        return Err(bad("CSeq method does not match the Request-Line"));
    }
    let (from, to) = addresses(head).map_err(bad)?;
    // Date is not checked: RFC 4475 3.1.2.12 (baddate) says an element should not reject
    // a bad Date unless it uses it, and neither a registrar nor a proxy does.
    let unsupported = unsupported_tags(head, rl.method, policy).map_err(bad)?;
    check_request_uri(&rl, &to, policy)?;
    if !unsupported.is_empty() && rl.method != b"ACK" && rl.method != b"CANCEL" {
        let tags: Vec<String> = unsupported.iter().map(|t| lossy(t)).collect();
        let mut r = Reject::new(420, "unsupported option tag in Require or Proxy-Require");
        r.headers.push(("Unsupported".to_string(), tags.join(", ")));
        return Err(r);
    }
    Ok(Info {
        is_request: true,
        method: lossy(rl.method),
        request_uri: lossy(rl.uri),
        from_tag: param(&from.params, b"tag").map(lossy),
        to_tag: param(&to.params, b"tag").map(lossy),
        ..c.info()
    })
}

/// From and To of a request, with every Contact address checked too.
fn addresses(head: &Head<'_>) -> Result<(Addr, Addr), &'static str> {
    let from = parse_addr(head.first("from").map_or(&[][..], |h| &h.value))?;
    let to = parse_addr(head.first("to").map_or(&[][..], |h| &h.value))?;
    for h in head.all("contact") {
        if h.value.as_slice() == b"*" {
            continue;
        }
        for part in split_top(&h.value, b',') {
            parse_addr(part)?;
        }
    }
    Ok((from, to))
}

/// The option tags of Require and Proxy-Require that bind this element and that it does
/// not support, each once. Proxy-Require binds every element that handles the request as
/// a proxy; Require only the one that answers it as a UAS (RFC 3261 8.2.2.3, 16.3 item 5).
fn unsupported_tags<'h>(
    head: &'h Head<'_>,
    method: &[u8],
    policy: &Policy,
) -> Result<Vec<&'h [u8]>, &'static str> {
    let as_uas = policy.uas_methods.iter().any(|m| m.as_bytes() == method);
    let mut unsupported: Vec<&[u8]> = Vec::new();
    for name in ["require", "proxy-require"] {
        for h in head.all(name) {
            for t in option_tags(&h.value)? {
                let binding = name == "proxy-require" || as_uas;
                let known = policy.supported.iter().any(|s| s.as_bytes() == t);
                if binding && !known && !unsupported.contains(&t) {
                    unsupported.push(t);
                }
            }
        }
    }
    Ok(unsupported)
}

/// The Request-URI: well formed, without headers, of a scheme served; a REGISTER's To a
/// SIP or SIPS URI.
fn check_request_uri(rl: &RequestLine<'_>, to: &Addr, policy: &Policy) -> Result<(), Reject> {
    let bad = |d: &'static str| Reject::new(400, d);
    let facts = check_uri(rl.uri).map_err(bad)?;
    if facts.has_headers {
        return Err(bad("Request-URI carries headers"));
    }
    let scheme = uri_scheme(rl.uri).map_err(bad)?;
    if !policy.schemes.iter().any(|s| eq_ci(s.as_bytes(), scheme)) {
        return Err(Reject::new(416, "Request-URI scheme not served"));
    }
    if rl.method == b"REGISTER" {
        let to_scheme = uri_scheme(&to.uri).unwrap_or(&[]);
        if !(eq_ci(to_scheme, b"sip") || eq_ci(to_scheme, b"sips")) {
            return Err(bad("REGISTER To is not a SIP or SIPS URI"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// frame
// ---------------------------------------------------------------------------------------

/// Finds the next message in a stream buffer (RFC 3261 18.3): the header section ends at
/// the first empty line and the body is exactly Content-Length octets. CRLFs before a
/// start line are reported as [`Frame::Keepalive`] so the caller can skip them (and answer
/// a CRLFCRLF ping with a CRLF pong).
pub fn frame(buf: &[u8], max_len: usize) -> Frame {
    match buf.first() {
        None => return Frame::NeedMore,
        Some(b'\r') | Some(b'\n') => return keepalive(buf),
        Some(_) => {}
    }
    let Some((head_end, body_start)) = find_head_end(buf) else {
        if buf.len() > max_len {
            return Frame::Bad(Reject::new(413, "header section larger than allowed"));
        }
        return Frame::NeedMore;
    };
    if body_start > max_len {
        return Frame::Bad(Reject::new(413, "header section larger than allowed"));
    }
    let head = parse_head(sub(buf, 0, head_end));
    let mut lengths = head.all("content-length");
    let (Some(cl), None) = (lengths.next(), lengths.next()) else {
        if head.count("content-length") == 0 {
            return Frame::Bad(Reject::new(400, "no Content-Length on a stream"));
        }
        return Frame::Bad(Reject::new(400, "more than one Content-Length"));
    };
    let Some(len) = parse_u64(&cl.value).and_then(|n| usize::try_from(n).ok()) else {
        return Frame::Bad(Reject::new(400, "bad Content-Length"));
    };
    match body_start.checked_add(len) {
        Some(total) if total <= max_len => {
            if buf.len() < total {
                Frame::NeedMore
            } else {
                Frame::Message(total)
            }
        }
        _ => Frame::Bad(Reject::new(413, "message larger than allowed")),
    }
}

fn keepalive(buf: &[u8]) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::Keepalive(4);
    }
    if buf.starts_with(b"\n") {
        return Frame::Keepalive(1);
    }
    match (at(buf, 1), at(buf, 2)) {
        (Some(b'\n'), Some(b'\r')) => match at(buf, 3) {
            None => Frame::NeedMore,
            // "\r\n\r" then not "\n": a pong followed by something odd.
            Some(_) => Frame::Keepalive(2),
        },
        (Some(b'\n'), Some(_)) => Frame::Keepalive(2),
        (Some(b'\n'), None) | (None, _) => Frame::NeedMore,
        // A lone CR followed by something else: skip the CR.
        (Some(_), _) => Frame::Keepalive(1),
    }
}

// ---------------------------------------------------------------------------------------
// reply
// ---------------------------------------------------------------------------------------

fn clean(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// Whether a To value carries a tag parameter (outside quotes and angle brackets).
fn has_tag(v: &[u8]) -> bool {
    split_top(v, b';').iter().skip(1).any(|p| {
        let p = trim(p);
        let name_end = p
            .iter()
            .position(|&b| b == b'=' || is_ws(b))
            .unwrap_or(p.len());
        eq_ci(sub(p, 0, name_end), b"tag")
    })
}

/// Builds a stateless response to a request: all Via rows, From, To (with `;tag=to_tag`
/// added when To has no tag and `to_tag` is not empty), Call-ID, CSeq copied from the raw
/// request, then `headers`, then `Content-Length: 0`. None for a response, or when Via,
/// From, To, Call-ID or CSeq cannot be found (such a request must be dropped).
pub fn reply(
    msg: &[u8],
    status: u16,
    reason: &str,
    headers: &[(String, String)],
    to_tag: &str,
) -> Option<Vec<u8>> {
    let msg = skip_leading_newlines(msg);
    if msg.is_empty() || starts_with_ci(msg, b"SIP/") {
        return None;
    }
    let head_bytes = match find_head_end(msg) {
        Some((end, _)) => sub(msg, 0, end),
        None => msg,
    };
    let head = parse_head(head_bytes);
    let vias: Vec<&Header> = head.all("via").collect();
    // Via routes the response and CSeq names the transaction: without them nobody could
    // match it. From, To and Call-ID are copied when the request has them; RFC 4475 3.3.1
    // (insuf) asks for a 400 even to a request that lacks them.
    let cseq = head.first("cseq")?;
    if vias.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(format!("SIP/2.0 {status:03} ").as_bytes());
    out.extend_from_slice(&clean(reason.as_bytes()));
    out.extend_from_slice(b"\r\n");
    let line = |name: &[u8], value: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(&clean(value));
        out.extend_from_slice(b"\r\n");
    };
    for v in vias {
        line(b"Via", &v.value, &mut out);
    }
    if let Some(from) = head.first("from") {
        line(b"From", &from.value, &mut out);
    }
    if let Some(to) = head.first("to") {
        let mut to_value = to.value.clone();
        if !to_tag.is_empty() && !has_tag(&to.value) {
            to_value.extend_from_slice(b";tag=");
            to_value.extend_from_slice(to_tag.as_bytes());
        }
        line(b"To", &to_value, &mut out);
    }
    if let Some(call_id) = head.first("call-id") {
        line(b"Call-ID", &call_id.value, &mut out);
    }
    line(b"CSeq", &cseq.value, &mut out);
    for (name, value) in headers {
        line(&clean(name.as_bytes()), value.as_bytes(), &mut out);
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(out)
}

#[cfg(test)]
mod tests;
