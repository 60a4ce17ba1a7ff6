//! A reverse proxy in front of the real notary, as deployments have one:
//! it can terminate TLS (with a certificate made here by a test CA) and can
//! answer `503 Retry-After` to the first requests, as an overloaded front
//! end does. One request per connection; requests and answers are passed
//! through byte for byte, with `Connection: close` added to the answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A CA and a server certificate for `localhost`, signed by it.
pub struct TestCa {
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "share-audit test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        TestCa {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        }
    }
}

pub struct Proxy {
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub url: String,
    /// Seconds the 503 answers ask the client to wait (`Retry-After`).
    pub retry_after: u64,
    /// Requests answered 503 so far.
    pub refused: Arc<AtomicUsize>,
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

impl Proxy {
    /// Proxies to the notary at `upstream` (`http://host:port`).
    pub fn start(
        upstream: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        refuse_first: usize,
    ) -> Proxy {
        Proxy::start_waiting(upstream, tls, refuse_first, 0)
    }

    /// As [`Proxy::start`], its 503 answers asking for `retry_after` seconds.
    pub fn start_waiting(
        upstream: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        refuse_first: usize,
        retry_after: u64,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = match tls {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let refused = Arc::new(AtomicUsize::new(0));
        let count = refused.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (upstream, tls, count) = (upstream.clone(), tls.clone(), count.clone());
                std::thread::spawn(move || {
                    let mut stream: Box<dyn Stream> = match tls {
                        Some(config) => {
                            let server = rustls::ServerConnection::new(config).unwrap();
                            Box::new(rustls::StreamOwned::new(server, conn))
                        }
                        None => Box::new(conn),
                    };
                    let _ = serve(&mut stream, &upstream, &count, refuse_first, retry_after);
                });
            }
        });
        Proxy {
            url,
            retry_after,
            refused,
        }
    }
}

/// Reads one HTTP message's head and its `Content-Length` body.
fn read_message(stream: &mut dyn Read) -> std::io::Result<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((head, body))
}

fn serve(
    client: &mut Box<dyn Stream>,
    upstream: &str,
    refused: &AtomicUsize,
    refuse_first: usize,
    retry_after: u64,
) -> std::io::Result<()> {
    let (head, body) = read_message(client.as_mut())?;
    if refused.fetch_add(1, Ordering::SeqCst) < refuse_first {
        let answer = r#"{"error":"overloaded","message":"busy; retry"}"#;
        write!(
            client,
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {retry_after}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )?;
        return client.flush();
    }
    refused.fetch_sub(1, Ordering::SeqCst);
    let mut notary = TcpStream::connect(upstream)?;
    notary.write_all(head.as_bytes())?;
    notary.write_all(&body)?;
    let (answer_head, answer_body) = read_message(&mut notary)?;
    let (status_line, rest) = answer_head.split_once("\r\n").unwrap();
    write!(client, "{status_line}\r\nConnection: close\r\n{rest}")?;
    client.write_all(&answer_body)?;
    client.flush()
}
