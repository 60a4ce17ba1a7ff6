//! A lean HTTP/1.1 client: one keep-alive connection per task, so the load
//! generator spends as little of the shared CPU as possible.

use std::net::SocketAddr;

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// `http://host:port` → socket address.
pub fn parse_url(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url}: only http:// is supported"))?;
    rest.trim_end_matches('/')
        .parse()
        .with_context(|| format!("{url}: expected http://IP:PORT"))
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    async fn send(&mut self, method: Method, path: &str, body: Bytes) -> Result<(u16, Bytes)> {
        self.send_with(method, path, body, &[]).await
    }

    async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Bytes)> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(body))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn post(&mut self, path: &str, body: Bytes) -> Result<(u16, Bytes)> {
        self.send(Method::POST, path, body).await
    }

    pub async fn get(&mut self, path: &str) -> Result<(u16, Bytes)> {
        self.send(Method::GET, path, Bytes::new()).await
    }

    /// A signed read (specs/reads.md), signed as it is sent (a signature
    /// lives at most 5 minutes).
    pub async fn get_signed(&mut self, read: &SignedRead) -> Result<(u16, Bytes)> {
        let (input, signature) = read.sign(self.host.parse()?);
        let headers = [
            ("signature-input", input.as_str()),
            ("signature", signature.as_str()),
        ];
        self.send_with(Method::GET, &read.path, Bytes::new(), &headers)
            .await
    }
}

/// A read request and the key that signs it.
pub struct SignedRead {
    pub key: ed25519_dalek::SigningKey,
    pub path: String,
}

impl SignedRead {
    /// The `Signature-Input` and `Signature` headers of the read at the
    /// notary `addr`, signed now with a new nonce.
    fn sign(&self, addr: SocketAddr) -> (String, String) {
        let authority = addr.to_string();
        let path = &self.path;
        let (p, q) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path.as_str(), None),
        };
        let target = ledger::read_signature::Target {
            method: "GET",
            authority: &authority,
            path: p,
            query: q,
        };
        ledger::read_signature::sign(
            &self.key,
            &target,
            department::now_ms() / 1000,
            60,
            &ledger::read_signature::new_nonce(),
        )
    }
}

/// A bare HTTP/1.1 connection for the ingest benchmark's single
/// submissions: the request is written as one buffer and the answer read by
/// its `Content-Length`, with no task of its own. It does a tenth of what
/// [`Conn`] does, which is the point: the load generator shares the two
/// cores it measures, and what it spends is counted against the notary's
/// figure. Answers without a length (bulk answers stream) need [`Conn`].
pub struct BareConn {
    addr: SocketAddr,
    stream: TcpStream,
    /// The notary said `Connection: close`: connect again before the next request.
    closing: bool,
    /// `POST /v1/attestations HTTP/1.1` and the headers before the length.
    head: Vec<u8>,
    /// What has been read of the current answer.
    buffer: Vec<u8>,
}

impl BareConn {
    pub async fn connect(addr: SocketAddr, path: &str) -> Result<BareConn> {
        let stream = Self::open(addr).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: "
        )
        .into_bytes();
        Ok(BareConn {
            addr,
            stream,
            closing: false,
            head,
            buffer: Vec::with_capacity(16 << 10),
        })
    }

    async fn open(addr: SocketAddr) -> Result<TcpStream> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Posts `body`; gives the answer's status and its body's length.
    pub async fn post(&mut self, body: &[u8]) -> Result<(u16, usize)> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        if self.closing {
            // An old connection's end (its maximum age, a shutdown).
            self.stream = Self::open(self.addr).await?;
            self.closing = false;
        }
        let mut request = Vec::with_capacity(self.head.len() + 8 + body.len());
        request.extend_from_slice(&self.head);
        request.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        self.stream.write_all(&request).await?;
        self.buffer.clear();
        loop {
            if let Some(answer) = parse_answer(&self.buffer)? {
                if self.buffer.len() > answer.end {
                    bail!("the notary sent more than one answer to one request");
                }
                if self.buffer.len() == answer.end {
                    self.closing = answer.closing;
                    return Ok((answer.status, answer.end - answer.body_at));
                }
            }
            if self.buffer.capacity() - self.buffer.len() < 4096 {
                self.buffer.reserve(16 << 10);
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(anyhow!("the notary closed the connection mid-answer"));
            }
        }
    }
}

/// Where an answer's parts are, once its head has been read.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body_at: usize,
    end: usize,
    /// `Connection: close`: the notary ends the connection after it.
    closing: bool,
}

/// Reads an answer's status line and `Content-Length` from `bytes`, if its
/// head is complete.
fn parse_answer(bytes: &[u8]) -> Result<Option<Answer>> {
    let Some(head_len) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..head_len]).context("answer head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|l| l.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP/1.1 answer: {head:?}"))?;
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name, value.trim()))
        .collect();
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| *value)
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("answer without Content-Length: {head:?}"))?;
    let body_at = head_len + 4;
    Ok(Some(Answer {
        status,
        body_at,
        end: body_at + length,
        closing: header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_their_length() {
        let full = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            parse_answer(full).unwrap(),
            Some(Answer {
                status: 201,
                body_at: full.len() - 2,
                end: full.len(),
                closing: false,
            })
        );
        let closing =
            b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(parse_answer(closing).unwrap().unwrap().closing);
        assert_eq!(parse_answer(&full[..20]).unwrap(), None);
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
    }
}
