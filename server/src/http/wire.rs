//! JSON answers for the requests hyper refuses itself. A request line longer than hyper's
//! fixed limit (65,534 characters: `http::Uri` cannot hold more), a head larger than its
//! buffer, or a line that is not HTTP never reaches the router: hyper answers 414, 431 or
//! 400 with an empty body and closes the connection. The listener below wraps each
//! connection and rewrites exactly those bare answers into the API's JSON errors
//! `{code, message}` (the status stays), so every client gets a body it can show.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use vcms_api::ErrorCode;

/// The JSON answer for hyper's own bare error head, if `buf` is one.
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let status_line = head.split("\r\n").next()?;
    let (code, message) = match status_line {
        "HTTP/1.1 414 URI Too Long" => (
            ErrorCode::UriTooLong,
            "The request line is longer than this server accepts (65,534 characters): \
             shorten the query (a search is at most 128 characters)",
        ),
        "HTTP/1.1 431 Request Header Fields Too Large" => (
            ErrorCode::TooLarge,
            "The request headers are larger than this server accepts",
        ),
        "HTTP/1.1 400 Bad Request" => (ErrorCode::BadRequest, "The request is not valid HTTP/1.1"),
        _ => return None,
    };
    // Only hyper's own answers: no body at all. Every answer of the API has a JSON body.
    let bare = head_end == buf.len()
        && head
            .split("\r\n")
            .any(|h| h.eq_ignore_ascii_case("content-length: 0"));
    if !bare {
        return None;
    }
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A connection whose bare parse-error answers are rewritten as JSON.
pub struct JsonErrorsIo<T> {
    inner: T,
    /// A rewritten answer and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T: AsyncWrite + Unpin> JsonErrorsIo<T> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((buf, done)) = &mut self.pending {
            if *done >= buf.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &buf[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Take `buf` as written when it is a bare error head to rewrite.
    fn intercept(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<Poll<io::Result<usize>>> {
        let json = replacement(buf)?;
        self.pending = Some((json, 0));
        Some(match self.drain(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // The rest is written on the next write, flush or shutdown.
            _ => Poll::Ready(Ok(buf.len())),
        })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrorsIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrorsIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        if let Some(p) = this.intercept(cx, buf) {
            return p;
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        let first = bufs.iter().find(|b| !b.is_empty());
        let only = bufs.iter().filter(|b| !b.is_empty()).count() == 1;
        if let (Some(first), true) = (first, only) {
            if let Some(p) = this.intercept(cx, first) {
                return p;
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// A TCP listener whose connections get JSON parse-error answers.
pub struct JsonErrorsListener(pub tokio::net::TcpListener);

impl axum::serve::Listener for JsonErrorsListener {
    type Io = JsonErrorsIo<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (
            JsonErrorsIo {
                inner: io,
                pending: None,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_heads_are_rewritten() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 08:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(bare).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{out}");
        assert!(out.contains("content-type: application/json"), "{out}");
        assert!(out.ends_with('}'), "{out}");
        // An API answer with a body is left alone.
        let api = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n{\"code\":\"x\"}";
        assert!(replacement(api).is_none());
        let api_head = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n";
        assert!(replacement(api_head).is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
