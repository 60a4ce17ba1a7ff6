//! C2SP tlog-tiles paths as the notary's HTTP API reads them (specs/api.md):
//! exactly one URL per tile, and no panic on any level or index.
#![no_main]
use ledger::tiles::TileId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tile) = TileId::parse(path) {
        assert_eq!(tile.path(), path, "a tile has one path");
        for size in [0, 1, 255, 256, 70_000, u64::MAX] {
            let _ = tile.exists_in(size);
        }
        let _ = tile.first();
        let _ = tile.tree_level();
    }
});
