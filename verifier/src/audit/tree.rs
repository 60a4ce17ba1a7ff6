//! Step 3: the tree the entries make (specs/merkle.md), against the hash
//! tiles and the root of every checkpoint of the history.

use std::collections::VecDeque;

use ledger::frontier::Frontier;
use ledger::hashing::Hash;
use ledger::package;
use ledger::proof::NodeId;
use ledger::tiles::{TileId, TileKind, TILE_HEIGHT, TILE_WIDTH};

use super::files::{ExtraFiles, HistoryCheckpoint};
use super::state::Audit;

/// Where a root the tree must have comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Claim {
    /// The `n`-th checkpoint of the package's history.
    History(u64),
    /// A checkpoint the auditor saw elsewhere (`--checkpoint`), by the
    /// name it was given under.
    Seen(String),
}

/// The tree the entries make, checked against the hash tiles and the
/// checkpoints as it grows.
pub(super) struct TreeCheck {
    pub(super) frontier: Frontier,
    /// Hashes of the tile being filled, by tile level.
    pub(super) tiles: Vec<Vec<Hash>>,
    /// Roots still to reach: (size, root, whose), smallest size first.
    pub(super) roots: VecDeque<(u64, Hash, Claim)>,
}

impl TreeCheck {
    pub(super) fn new(history: &[HistoryCheckpoint], seen: &[(String, u64, Hash)]) -> TreeCheck {
        let mut roots: Vec<(u64, Hash, Claim)> = history
            .iter()
            .map(|h| (h.size, h.root, Claim::History(h.number)))
            .chain(
                seen.iter()
                    .map(|(name, size, root)| (*size, *root, Claim::Seen(name.clone()))),
            )
            .collect();
        roots.sort_by_key(|(size, _, _)| *size);
        TreeCheck {
            frontier: Frontier::empty(),
            tiles: Vec::new(),
            roots: roots.into(),
        }
    }

    /// The next root due at a size of at most `size`, taken off the list.
    pub(super) fn due_root(&mut self, size: u64) -> Option<(Claim, Hash)> {
        match self.roots.front() {
            Some((s, _, _)) if *s <= size => {
                let (_, root, claim) = self.roots.pop_front()?;
                Some((claim, root))
            }
            _ => None,
        }
    }

    pub(super) fn push(&mut self, audit: &mut Audit, leaf: Hash, extra: &ExtraFiles) {
        let mut finished: Vec<(NodeId, Hash)> = Vec::new();
        self.frontier.push(leaf, |id, hash| {
            if id.level % TILE_HEIGHT == 0 {
                finished.push((id, hash));
            }
        });
        for (id, hash) in finished {
            let level = usize::from(id.level / TILE_HEIGHT);
            if self.tiles.len() <= level {
                self.tiles.resize_with(level + 1, Vec::new);
            }
            self.tiles[level].push(hash);
            if self.tiles[level].len() as u64 == TILE_WIDTH {
                let hashes = std::mem::take(&mut self.tiles[level]);
                let tile = TileId {
                    kind: TileKind::Hashes { level: level as u8 },
                    index: id.index / TILE_WIDTH,
                    width: TILE_WIDTH,
                };
                check_tile(audit, tile, &hashes, extra);
            }
        }
    }

    /// The partial tiles at the end of the tree.
    pub(super) fn finish(&mut self, audit: &mut Audit, extra: &ExtraFiles) {
        let size = self.frontier.size();
        for (level, hashes) in self.tiles.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let index = (size >> (TILE_HEIGHT as usize * level)) / TILE_WIDTH;
            let tile = TileId {
                kind: TileKind::Hashes { level: level as u8 },
                index,
                width: hashes.len() as u64,
            };
            check_tile(audit, tile, hashes, extra);
        }
    }
}

/// A hash tile against the hashes the entries give, and any earlier
/// partial of it.
pub(super) fn check_tile(audit: &mut Audit, tile: TileId, hashes: &[Hash], extra: &ExtraFiles) {
    let path = package::tile_path(&tile);
    if let Some(bytes) = audit.read(&path) {
        let expected: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
        if bytes != expected {
            let first = tile.first().unwrap_or(0);
            let message = match (0..hashes.len())
                .find(|&i| bytes.get(i * 32..i * 32 + 32) != Some(&expected[i * 32..i * 32 + 32]))
            {
                Some(i) if tile.tree_level() == 0 => {
                    let entry = first + i as u64;
                    let bundle = TileId {
                        kind: TileKind::Entries,
                        index: tile.index,
                        width: tile.width,
                    };
                    format!(
                        "hash {i} is not the leaf hash of entry {entry} in {}: the tile or the entry was altered",
                        package::tile_path(&bundle)
                    )
                }
                Some(i) => format!(
                    "hash {i} (node {} at tree level {}) is not the one the entries make",
                    first + i as u64,
                    tile.tree_level()
                ),
                None => format!("{} bytes, {} expected", bytes.len(), expected.len()),
            };
            audit.fail("tile_mismatch", &path, message);
        }
    }
    for &stale in extra
        .tiles
        .get(&(tile.kind, tile.index))
        .into_iter()
        .flatten()
    {
        if stale < tile.width {
            let expected: Vec<u8> = hashes[..stale as usize].iter().flat_map(|h| h.0).collect();
            audit.compare_file(
                &package::tile_path(&TileId {
                    width: stale,
                    ..tile
                }),
                &expected,
            );
        }
    }
}
