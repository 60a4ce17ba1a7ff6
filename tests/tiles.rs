//! The C2SP tlog-tiles read API of the real notary, checked with an
//! implementation that is not ours: `tlog_tiles` (Cloudflare's port of Go's
//! sumdb/tlog) authenticates the served tiles against the checkpoint and
//! proves inclusion of entries from the served entry bundles.

use e2e::*;
use ledger::attestation::Kind;
use ledger::checkpoint::Checkpoint;
use tlog_tiles::tlog::{self, Hash as TlogHash};
use tlog_tiles::{Tile, TileHashReader, TileReader};

/// Fetches tiles over HTTP. `tlog_tiles` names tiles the Go sumdb way,
/// `tile/8/<L>/<N>`; C2SP tlog-tiles drops the height: `tile/<L>/<N>`.
struct HttpTiles<'a>(&'a Notary);

impl TileReader for HttpTiles<'_> {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        Ok(tiles
            .iter()
            .map(|t| {
                let path = t.path().replacen("tile/8/", "/tile/", 1);
                let (status, body) = self.0.get(&path);
                assert_eq!(status, 200, "GET {path}");
                body
            })
            .collect())
    }
    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

fn entries_from_bundle(bundle: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        out.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    out
}

#[test]
fn inclusion_proven_from_served_tiles_alone() {
    let setup = Setup::new();
    let policy = setup.policy();
    let notary = setup.start();
    // Entry bundles mix cases: an auditor reads them (specs/reads.md).
    let auditor = auditor(&setup, &notary);
    let provider = department("gd.rst");
    for a in registration(&setup.root, &provider, &["provider"]) {
        assert_eq!(notary.submit(&a).0, 201);
    }
    // 600 entries: two full level-0 tiles, a partial one, and a partial level-1 tile.
    let mut checkpoints = Vec::new();
    for i in 0..596 {
        let a = sign(
            &provider,
            Kind::CatalogEntry,
            catalog_entry(&format!("rst/item-{i}")),
        );
        let (status, body) = notary.submit(&a);
        assert_eq!(status, 201, "{body}");
        if i % 97 == 0 {
            checkpoints.push(notary.checkpoint());
        }
    }
    checkpoints.push(notary.checkpoint());

    // Full tiles never change: they may be cached forever; the checkpoint may not.
    let r = ureq::get(&format!("{}/tile/0/000", notary.url))
        .call()
        .unwrap();
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let mut tile = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut tile).unwrap();
    assert_eq!(tile.len(), 8192, "a full tile is 256 hashes");
    let r = ureq::get(&format!("{}/checkpoint", notary.url))
        .call()
        .unwrap();
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    for note in &checkpoints {
        let cp = Checkpoint::verify(note.as_bytes(), &policy.origin, &policy.log_keys).unwrap();
        let reader = HttpTiles(&notary);
        let hashes = TileHashReader::new(cp.size, TlogHash(cp.root.0), &reader);
        assert_eq!(
            tlog::tree_hash(cp.size, &hashes).unwrap(),
            TlogHash(cp.root.0)
        );
        for index in [0, 1, 255, 256, 300, cp.size / 2, cp.size - 1] {
            if index >= cp.size {
                continue;
            }
            let proof = tlog::prove_record(cp.size, index, &hashes).unwrap();
            // The entry, from the bundle that holds it (partial if the tile is not full at this size).
            let n = index / 256;
            let width = (cp.size - n * 256).min(256);
            let path = if width == 256 {
                format!("/tile/entries/{}", tiles_index(n))
            } else {
                format!("/tile/entries/{}.p/{width}", tiles_index(n))
            };
            let (status, bundle) = notary.read_as(&auditor, &path);
            assert_eq!(status, 200, "{path}");
            let entries = entries_from_bundle(&bundle);
            assert_eq!(entries.len() as u64, width);
            let leaf = tlog::record_hash(entries[(index % 256) as usize]);
            tlog::check_record(&proof, cp.size, TlogHash(cp.root.0), index, leaf).unwrap();
        }
    }
}

fn tiles_index(n: u64) -> String {
    ledger::tiles::encode_index(n)
}

#[test]
fn tile_requests_are_checked() {
    let setup = Setup::new();
    let notary = setup.start();
    let provider = department("gd.rst");
    for a in registration(&setup.root, &provider, &["provider"]) {
        assert_eq!(notary.submit(&a).0, 201);
    }
    // Size 2: level-0 partial tile of width 2 exists, width 3 and full do not.
    let (status, body) = notary.get("/tile/0/000.p/2");
    assert_eq!((status, body.len()), (200, 64));
    assert_eq!(notary.get("/tile/0/000.p/3").0, 404);
    assert_eq!(notary.get("/tile/0/000").0, 404);
    // Entry bundles are for auditors only; hash tiles for anyone.
    assert_eq!(notary.get("/tile/entries/000.p/2").0, 401);
    assert_eq!(notary.read_as(&provider, "/tile/entries/000.p/2").0, 403);
    for bad in [
        "/tile/0/0",
        "/tile/0/x000/000",
        "/tile/0/000.p/0",
        "/tile/64/000",
        "/tile/entries/000.p/256",
    ] {
        assert_eq!(notary.get(bad).0, 404, "{bad}");
    }
}
