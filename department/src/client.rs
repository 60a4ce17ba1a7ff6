//! Talking to the notary over HTTP or HTTPS (specs/api.md): TLS with the
//! system's CA certificates or a given bundle, and retries of what the
//! notary asks to be retried (503 and 408, honouring `Retry-After`).

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger::attestation::SignedAttestation;
use ledger::read_signature::{self, Target};
use serde_json::Value;

/// The notary's answer to a submission.
#[derive(Debug)]
pub struct SubmitResponse {
    pub status: u16,
    pub body: Value,
    /// How many times the submission was sent.
    pub attempts: u32,
    /// Findings the notary says the entry makes at once
    /// (`Share-Audit-Finding`, specs/api.md): `second_reply; cites=12`.
    pub findings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the notary at {url}: {reason}")]
    Transport {
        url: String,
        reason: String,
        /// Whether trying again later may work (a lost connection), or
        /// not (a certificate not trusted, a bad URL).
        transient: bool,
    },
    #[error("the notary answered {status} with a body that is not JSON")]
    NotJson { status: u16 },
    #[error("cannot read the CA bundle {path}: {reason}")]
    CaBundle { path: String, reason: String },
}

/// The notary's answer to a read.
#[derive(Debug)]
pub struct ReadResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// How long a read signature stays valid (specs/reads.md allows 300 s).
const READ_LIFETIME_S: u64 = 60;
/// The largest answer read (a receipt is at most about 1.5 MB; a case's
/// timeline or findings more).
const MAX_READ_BYTES: u64 = 256 << 20;

/// How a client reaches the notary.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    notary: String,
    /// Retries after the first attempt, for 503, 408 and lost connections.
    pub retries: u32,
    /// The longest wait between attempts.
    pub max_wait: Duration,
    /// The language the notary writes refusal messages in.
    pub lang: ledger::lang::Lang,
}

impl Client {
    /// A client of the notary at `notary` (`http://…` or `https://…`). TLS
    /// trusts the system's CA certificates, or only those of `ca_bundle`
    /// (PEM), for a notary behind a government CA.
    pub fn new(notary: &str, ca_bundle: Option<&Path>) -> Result<Client, ClientError> {
        let https = notary.starts_with("https://");
        if ca_bundle.is_some() && !https {
            return Err(ClientError::CaBundle {
                path: notary.to_owned(),
                reason: "--ca is for an https:// notary; this one is not reached over TLS".into(),
            });
        }
        // No redirects: a receipt comes from the notary asked, or not at all.
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirects(0)
            .https_only(https);
        if let Some(path) = ca_bundle {
            builder = builder.tls_config(Arc::new(tls_config(path)?));
        }
        Ok(Client {
            agent: builder.build(),
            notary: notary.trim_end_matches('/').to_owned(),
            retries: 5,
            max_wait: Duration::from_secs(30),
            lang: ledger::lang::Lang::En,
        })
    }

    /// POSTs a signed attestation to `<notary>/v1/attestations`, retrying
    /// while the notary says it cannot take it now (503, 408: nothing was
    /// appended, resubmitting is safe) or the connection fails.
    // The closures return ureq's own `Result`, whose error is large; it
    // is handled at once in `with_retries`, never passed up.
    #[allow(clippy::result_large_err)]
    pub fn submit(&self, attestation: &SignedAttestation) -> Result<SubmitResponse, ClientError> {
        let url = format!("{}/v1/attestations", self.notary);
        let body = attestation.to_json();
        self.with_retries(
            &url,
            |status| matches!(status, 503 | 408),
            || {
                self.agent
                    .post(&url)
                    .set("Content-Type", "application/json")
                    .set("Accept-Language", self.lang.tag())
                    .send_string(&body)
            },
            |resp, attempts| {
                let status = resp.status();
                let findings = resp
                    .all("share-audit-finding")
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                let body: Value = resp
                    .into_json()
                    .map_err(|_| ClientError::NotJson { status })?;
                Ok(SubmitResponse {
                    status,
                    body,
                    attempts,
                    findings,
                })
            },
        )
    }

    /// GETs `path` (with its query, if any) as `reader`: a read signed as
    /// specs/reads.md says, with a new nonce on each attempt. Retries as
    /// [`Client::submit`] does (503 only: a read that timed out is sent
    /// again by whoever asked).
    pub fn read(&self, reader: &SigningKey, path: &str) -> Result<ReadResponse, ClientError> {
        self.read_at(reader, path, None)
    }

    /// [`Client::read`] with the signature created at `created_s` (seconds;
    /// default now): for a notary whose clock a test sets.
    #[allow(clippy::result_large_err)]
    pub fn read_at(
        &self,
        reader: &SigningKey,
        path: &str,
        created_s: Option<u64>,
    ) -> Result<ReadResponse, ClientError> {
        let url = format!("{}{path}", self.notary);
        let (path_only, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let authority = self.authority();
        let target = Target {
            method: "GET",
            authority: &authority,
            path: path_only,
            query,
        };
        self.with_retries(
            &url,
            |status| status == 503,
            || {
                let created = created_s.unwrap_or_else(|| ledger::time::now_ms() / 1000);
                let (input, signature) = read_signature::sign(
                    reader,
                    &target,
                    created,
                    READ_LIFETIME_S,
                    &read_signature::new_nonce(),
                );
                self.agent
                    .get(&url)
                    .set("Signature-Input", &input)
                    .set("Signature", &signature)
                    .set("Accept-Language", self.lang.tag())
                    .call()
            },
            |resp, _| {
                let status = resp.status();
                let mut body = Vec::new();
                resp.into_reader()
                    .take(MAX_READ_BYTES)
                    .read_to_end(&mut body)
                    .map_err(|e| ClientError::Transport {
                        url: url.clone(),
                        reason: e.to_string(),
                        transient: true,
                    })?;
                Ok(ReadResponse { status, body })
            },
        )
    }

    /// Sends a request (`send`, made again for each attempt) until the
    /// notary answers with a status `retryable` does not take, or the
    /// retries are spent; waits between attempts as the notary asks
    /// (`Retry-After`) or by backoff. A lost connection is retried too; a
    /// bad URL or an untrusted certificate is not.
    fn with_retries<T>(
        &self,
        url: &str,
        retryable: impl Fn(u16) -> bool,
        send: impl Fn() -> Result<ureq::Response, ureq::Error>,
        answer: impl FnOnce(ureq::Response, u32) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let retry_after = match send() {
                Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
                    if !retryable(resp.status()) || attempt > self.retries {
                        return answer(resp, attempt);
                    }
                    resp.header("Retry-After")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map(Duration::from_secs)
                }
                Err(e) if attempt > self.retries || !worth_retrying(&e) => {
                    let mut reason = e.to_string();
                    if reason.contains("UnknownIssuer") {
                        // No CA this machine trusts (or none at all, in a
                        // minimal container) signed the notary's certificate.
                        reason.push_str(
                            "; the notary's certificate is not from a CA this machine trusts: give the notary's CA with --ca bundle.pem",
                        );
                    }
                    return Err(ClientError::Transport {
                        url: url.to_owned(),
                        reason,
                        transient: worth_retrying(&e),
                    });
                }
                Err(_) => None,
            };
            std::thread::sleep(self.wait(attempt, retry_after));
        }
    }

    /// The notary's authority as this client addresses it (RFC 9421
    /// §2.2.3): host and port, the port left out when it is the scheme's.
    pub fn authority(&self) -> String {
        let (rest, default_port) = match self.notary.split_once("://") {
            Some(("https", rest)) => (rest, ":443"),
            Some((_, rest)) => (rest, ":80"),
            None => (self.notary.as_str(), ":80"),
        };
        let host = rest.split('/').next().unwrap_or_default();
        host.strip_suffix(default_port)
            .unwrap_or(host)
            .to_ascii_lowercase()
    }

    /// What the notary asked for, or exponential backoff from 250 ms with
    /// up to a quarter more at random (so that many clients turned away
    /// together do not come back together); never more than `max_wait`.
    fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        use rand::Rng as _;
        let backoff = Duration::from_millis(250) * 2u32.saturating_pow(attempt.min(16) - 1);
        let jitter = backoff.mul_f64(rand::thread_rng().gen_range(0.0..0.25));
        retry_after.unwrap_or(backoff + jitter).min(self.max_wait)
    }
}

/// A lost or refused connection may work on the next try; a bad URL, a
/// certificate the client does not trust or a failed name lookup will not.
fn worth_retrying(e: &ureq::Error) -> bool {
    let ureq::Error::Transport(t) = e else {
        return false;
    };
    let tls = std::iter::successors(std::error::Error::source(t), |s| s.source())
        .any(|s| s.is::<rustls::Error>() || s.to_string().contains("certificate"));
    matches!(
        t.kind(),
        ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Io
    ) && !tls
        && !t.to_string().contains("certificate")
}

/// TLS trusting exactly the certificates of a PEM bundle.
fn tls_config(path: &Path) -> Result<rustls::ClientConfig, ClientError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::CertificateDer;
    let fail = |reason: String| ClientError::CaBundle {
        path: path.display().to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("it holds no PEM certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
