//! A lean HTTP/1.1 client: one keep-alive connection per task, so the load
//! generator spends as little of the shared CPU as possible.

use std::net::SocketAddr;

use anyhow::{anyhow, Context, Result};
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
