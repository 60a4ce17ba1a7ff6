//! A realistic workload: many departments, each with its own key, sharing
//! data in many cases; the load is the stream of deliveries and usage
//! records a provincial platform produces.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use anyhow::{bail, Result};
use department::{now_ms, DepartmentKey};
use hyper::body::Bytes;
use ledger::attestation::Kind;
use serde_json::json;

use crate::client::Conn;

pub struct Workload {
    pub providers: Vec<DepartmentKey>,
    pub requesters: Vec<DepartmentKey>,
    /// Case ids; case `j` is between requester `j % R` and provider `j % P`.
    pub cases: Vec<String>,
    pub run: String,
    /// The origin of the notary's log, which every statement names.
    pub log: String,
}

fn item(run: &str, p: usize) -> String {
    format!("bench/{run}/item-{p}")
}

impl Workload {
    /// Fresh keys for `departments` departments (half providers, half
    /// requesters) and `cases` cases. `run` makes ids unique per run, so a
    /// benchmark can be repeated on the same log.
    pub fn new(departments: usize, cases: usize, run: &str, log: &str) -> Workload {
        let half = (departments / 2).max(1);
        let make = |role: &str, i: usize| {
            DepartmentKey::generate(&format!("bench.{run}.{role}{i}"))
                .expect("key")
                .0
        };
        Workload {
            providers: (0..half).map(|i| make("p", i)).collect(),
            requesters: (0..half).map(|i| make("r", i)).collect(),
            cases: (0..cases.max(1))
                .map(|j| format!("{run}-case-{j}"))
                .collect(),
            run: run.to_owned(),
            log: log.to_owned(),
        }
    }

    fn provider_of(&self, case: usize) -> &DepartmentKey {
        &self.providers[case % self.providers.len()]
    }

    fn requester_of(&self, case: usize) -> &DepartmentKey {
        &self.requesters[case % self.requesters.len()]
    }

    /// Registers every department and key, publishes one catalog item per
    /// provider and opens every case, in that order.
    pub async fn set_up(
        &self,
        root: &DepartmentKey,
        addr: SocketAddr,
        concurrency: usize,
    ) -> Result<()> {
        let depts: Vec<(&DepartmentKey, &str)> = self
            .providers
            .iter()
            .map(|d| (d, "provider"))
            .chain(self.requesters.iter().map(|d| (d, "requester")))
            .collect();
        let sign = |k: &DepartmentKey, kind, body| {
            k.sign(&self.log, kind, body, now_ms())
                .expect("valid statement")
                .to_json()
        };
        let phase1 = depts
            .iter()
            .map(|(d, role)| sign(root, Kind::Department, json!({"id": d.department, "name": "压测部门", "roles": [role], "jurisdiction": "测试"})))
            .collect();
        let phase2 = depts
            .iter()
            .map(|(d, _)| {
                sign(
                    root,
                    Kind::DepartmentKey,
                    json!({"department": d.department, "key": d.public_key_base64()}),
                )
            })
            .collect();
        let phase3 = self
            .providers
            .iter()
            .enumerate()
            .map(|(p, d)| {
                sign(d, Kind::CatalogEntry, json!({
                    "item": item(&self.run, p), "name": "压测数据", "data_items": ["字段"], "format": "JSON",
                    "update_frequency": "实时", "share_attribute": "unconditional",
                    "sharing_method": "service_interface", "classification": "一级"}))
            })
            .collect();
        let phase4 = (0..self.cases.len())
            .map(|j| {
                let p = j % self.providers.len();
                sign(self.requester_of(j), Kind::Application, json!({
                    "case": self.cases[j], "item": item(&self.run, p), "provider": self.providers[p].department,
                    "data_items": ["字段"], "legal_basis": "《政务数据共享条例》", "use_scenario": "压测",
                    "scope_of_use": "压测", "sharing_method": "service_interface", "use_until": "2030-12-31",
                    "approved_by": "负责人", "declaration": true}))
            })
            .collect();
        for phase in [phase1, phase2, phase3, phase4] {
            submit_all(addr, phase, concurrency).await?;
        }
        Ok(())
    }

    /// Signs `count` attestations starting at sequence number `from`,
    /// alternating deliveries (by the provider) and usage records (by the
    /// requester) over the cases, on every core.
    pub fn presign(&self, from: usize, count: usize) -> Vec<Bytes> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let chunk = count.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let start = from + t * chunk;
                        let end = (start + chunk).min(from + count);
                        (start..end)
                            .map(|n| Bytes::from(self.attestation(n)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("signer thread"))
                .collect()
        })
    }

    fn attestation(&self, n: usize) -> String {
        let case = n % self.cases.len();
        let id = &self.cases[case];
        let signed = if n.is_multiple_of(2) {
            let digest = format!("sha256:{:064x}", (n as u128) * 0x9e37_79b9_7f4a_7c15);
            self.provider_of(case).sign(
                &self.log,
                Kind::Delivery,
                json!({
                "case": id, "method": "service_interface", "data_digest": digest,
                "description": format!("{} 接口调用 #{n}", self.run)}),
                now_ms(),
            )
        } else {
            self.requester_of(case).sign(&self.log, Kind::UsageRecord, json!({
                "case": id, "use_scenario": "企业信用评价", "use_process": format!("{} 第 {n} 次接口调用，比对企业信用记录", self.run),
                "outcome": "比对完成", "storage_status": "不留存", "destruction_status": "调用结束即销毁"}), now_ms())
        };
        signed.expect("valid statement").to_json()
    }
}

/// Submits every body over `concurrency` connections; fails unless all are accepted.
pub async fn submit_all(addr: SocketAddr, bodies: Vec<String>, concurrency: usize) -> Result<()> {
    let bodies: Arc<Vec<Bytes>> = Arc::new(bodies.into_iter().map(Bytes::from).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (bodies, next) = (bodies.clone(), next.clone());
            tokio::spawn(async move {
                let mut conn = Conn::connect(addr).await?;
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return Ok::<(), anyhow::Error>(());
                    };
                    let (status, resp) = conn.post("/v1/attestations", body.clone()).await?;
                    if status != 201 && status != 200 {
                        bail!(
                            "set-up submission refused ({status}): {}",
                            String::from_utf8_lossy(&resp)
                        );
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// The origin of the notary's log: the first line of its checkpoint.
pub async fn log_origin(addr: SocketAddr) -> Result<String> {
    let (status, body) = Conn::connect(addr).await?.get("/checkpoint").await?;
    let text = String::from_utf8_lossy(&body);
    match text.lines().next() {
        Some(origin) if status == 200 && !origin.is_empty() => Ok(origin.to_owned()),
        _ => bail!("GET /checkpoint answered {status}: {text}"),
    }
}
