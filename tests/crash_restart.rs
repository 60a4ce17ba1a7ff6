//! SIGKILL the real notary while it takes concurrent submissions, restart it
//! on the same RocksDB files, and check that nothing acknowledged was lost:
//! every receipt still proves inclusion under the new checkpoint and every
//! checkpoint ever returned is consistent with it.

use std::sync::{Arc, Mutex};

use e2e::*;
use ledger::attestation::Kind;
use ledger::checkpoint::Checkpoint;
use ledger::hashing::leaf_hash;
use ledger::proof::{verify_consistency, verify_inclusion};
use ledger::receipt::Receipt;
use ledger::tlog_proof::TlogProof;

#[test]
fn acknowledged_records_survive_sigkill() {
    let setup = Setup::new();
    let policy = setup.policy();
    let provider = department("gd.rst");
    let requester = department("gd.scjgj");
    let receipts: Arc<Mutex<Vec<Receipt>>> = Arc::default();

    let mut notary = setup.start();
    for (d, roles) in [(&provider, &["provider"][..]), (&requester, &["requester"])] {
        for a in registration(&setup.root, d, roles) {
            assert_eq!(notary.submit(&a).0, 201);
        }
    }
    assert_eq!(
        notary
            .submit(&sign(
                &provider,
                Kind::CatalogEntry,
                catalog_entry("rst/shebao")
            ))
            .0,
        201
    );

    for round in 0..3 {
        // Four clients submit applications until the notary dies under them.
        let url = notary.url.clone();
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (url, receipts, requester) = (url.clone(), receipts.clone(), requester.clone());
                std::thread::spawn(move || {
                    for i in 0.. {
                        let a = sign(
                            &requester,
                            Kind::Application,
                            application(&format!("R{round}-W{w}-{i}"), "rst/shebao", "gd.rst"),
                        );
                        match department::submit(&url, &a) {
                            Ok(r) if r.status == 201 => receipts
                                .lock()
                                .unwrap()
                                .push(Receipt::from_json(r.body.to_string().as_bytes()).unwrap()),
                            Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
                            Err(_) => return, // the notary is gone
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(300 + 200 * round));
        notary.kill();
        for w in workers {
            w.join().unwrap();
        }
        notary = Notary::start(&setup.data(), &[]);

        let latest = Checkpoint::verify(
            notary.checkpoint().as_bytes(),
            &policy.origin,
            &policy.log_keys,
        )
        .unwrap();
        let got = receipts.lock().unwrap().clone();
        assert!(!got.is_empty(), "round {round}: no receipt was issued");
        let mut seen = std::collections::HashSet::new();
        for r in &got {
            assert!(seen.insert(r.index), "index {} given twice", r.index);
            r.verify(&policy).unwrap();
            // Still in the log, with the same bytes, under the newest checkpoint.
            let (status, entry) = notary.get(&format!("/v1/entries/{}", r.index));
            assert_eq!(status, 200);
            assert_eq!(leaf_hash(&entry), r.leaf_hash);
            let proof = TlogProof::parse(
                &notary.get_text(&format!("/v1/proof/inclusion?index={}", r.index)),
            )
            .unwrap();
            verify_inclusion(
                r.index,
                latest.size,
                &r.leaf_hash,
                &proof.path,
                &latest.root,
            )
            .unwrap();
            // The checkpoint the client was given is consistent with the newest.
            let old = Checkpoint::verify(
                TlogProof::parse(&r.proof).unwrap().checkpoint.as_bytes(),
                &policy.origin,
                &policy.log_keys,
            )
            .unwrap();
            let text = notary.get_text(&format!(
                "/v1/proof/consistency?from={}&to={}",
                old.size, latest.size
            ));
            verify_consistency(
                old.size,
                latest.size,
                &old.root,
                &latest.root,
                &verifier::parse_proof(&text).unwrap(),
            )
            .unwrap();
        }
    }
}
