//! The tiles most recently served, kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use ledger::tiles::TileId;

/// Full tiles and entry bundles never change: the most recently served are
/// kept in memory, up to a byte budget (then the cache starts again empty).
pub struct TileCache {
    tiles: Mutex<(HashMap<TileId, Bytes>, usize)>,
    budget: usize,
}

impl TileCache {
    pub fn new(budget: usize) -> TileCache {
        TileCache {
            tiles: Mutex::new((HashMap::new(), 0)),
            budget,
        }
    }

    pub fn get(&self, id: &TileId) -> Option<Bytes> {
        self.tiles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .get(id)
            .cloned()
    }

    pub fn put(&self, id: TileId, body: Bytes) {
        let mut guard = self.tiles.lock().unwrap_or_else(|p| p.into_inner());
        let (tiles, bytes) = &mut *guard;
        if *bytes + body.len() > self.budget {
            tiles.clear();
            *bytes = 0;
        }
        *bytes += body.len();
        tiles.insert(id, body);
    }
}
