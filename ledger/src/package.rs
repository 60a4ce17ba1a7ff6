//! The auditor's package (specs/package.md): its file names, its manifest,
//! and the length-prefixed bundles it keeps entries and checkpoints in.
//! `notary export` writes packages; `verifier audit` reads them.

use crate::tiles::{encode_index, TileId, TileKind, TILE_WIDTH};

/// The first line of a manifest.
pub const VERSION: &str = "share-audit/package/v1";
pub const MANIFEST: &str = "manifest";
pub const CHECKPOINT: &str = "checkpoint";
pub const POLICY: &str = "policy.txt";
pub const CALENDAR_DIR: &str = "calendar";
pub const HISTORY_DIR: &str = "checkpoints";
/// The newest checkpoint the witnesses' quorum cosigned, if the notary has one.
pub const WITNESSED: &str = "witnessed";

/// What a package holds: the tree of `size` entries and the first
/// `checkpoints` checkpoints the notary signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub origin: String,
    pub size: u64,
    pub checkpoints: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("the manifest is not four lines `{VERSION}`, `origin <origin>`, `size <n>`, `checkpoints <n>`: {0}")]
    Manifest(&'static str),
    #[error("{what} ends inside item {item} (a length prefix says {needed} more bytes, {left} are left)")]
    Truncated {
        what: &'static str,
        item: u64,
        needed: usize,
        left: usize,
    },
    #[error("{what} holds {found} items where {expected} were expected")]
    Count {
        what: &'static str,
        found: u64,
        expected: u64,
    },
}

impl Manifest {
    pub fn encode(&self) -> String {
        format!(
            "{VERSION}\norigin {}\nsize {}\ncheckpoints {}\n",
            self.origin, self.size, self.checkpoints
        )
    }

    /// Reads a manifest, accepting only the one encoding [`Manifest::encode`]
    /// writes.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, PackageError> {
        let bad = PackageError::Manifest;
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let body = text.strip_suffix('\n').ok_or(bad("no final newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [version, origin, size, checkpoints] = lines[..] else {
            return Err(bad("not four lines"));
        };
        if version != VERSION {
            return Err(bad("unknown version"));
        }
        let field = |line: &'static str, value: &str| -> Result<u64, PackageError> {
            crate::decimal::parse(value).ok_or(bad(line))
        };
        let origin = origin.strip_prefix("origin ").ok_or(bad("origin"))?;
        crate::attestation::Origin::try_from(origin.to_owned()).map_err(|_| bad("origin"))?;
        let manifest = Manifest {
            origin: origin.to_owned(),
            size: field("size", size.strip_prefix("size ").ok_or(bad("size"))?)?,
            checkpoints: field(
                "checkpoints",
                checkpoints
                    .strip_prefix("checkpoints ")
                    .ok_or(bad("checkpoints"))?,
            )?,
        };
        if manifest.encode() != text {
            return Err(bad("not in its one encoding"));
        }
        Ok(manifest)
    }
}

/// The tile path of `id` within the package.
pub fn tile_path(id: &TileId) -> String {
    format!("tile/{}", id.path())
}

/// The path of history bundle `index` holding `width` checkpoints.
pub fn history_path(index: u64, width: u64) -> String {
    if width == TILE_WIDTH {
        format!("{HISTORY_DIR}/{}", encode_index(index))
    } else {
        format!("{HISTORY_DIR}/{}.p/{width}", encode_index(index))
    }
}

/// Reads a history path (the part after `checkpoints/`), as tile paths are
/// read: `<N>[.p/<W>]`, canonical only. Returns the index and width.
pub fn parse_history_path(path: &str) -> Option<(u64, u64)> {
    // The same grammar as an entry bundle's path.
    let id = TileId::parse(&format!("entries/{path}")).ok()?;
    Some((id.index, id.width))
}

/// The bundles (entry bundles, history bundles) a list of `count` items
/// needs: `(index, width)` of each, full ones first, then a partial one.
pub fn bundles(count: u64) -> impl Iterator<Item = (u64, u64)> {
    let full = count / TILE_WIDTH;
    let partial = count % TILE_WIDTH;
    (0..full)
        .map(|i| (i, TILE_WIDTH))
        .chain((partial > 0).then_some((full, partial)))
}

/// The hash tiles the tree of `size` leaves needs (C2SP tlog-tiles): at each
/// tile level, the full tiles and the partial one of what is complete.
pub fn hash_tiles(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level = 0u8;
    let mut count = size;
    while count > 0 {
        for (index, width) in bundles(count) {
            out.push(TileId {
                kind: TileKind::Hashes { level },
                index,
                width,
            });
        }
        count /= TILE_WIDTH;
        level += 1;
    }
    out
}

/// Whether the package of the tree of `size` entries must hold the tile or
/// entry bundle `id`: every full one, and the partial one at the edge, at
/// its width then.
pub fn is_required(id: &TileId, size: u64) -> bool {
    let level = id.tree_level();
    let count = if level >= 64 { 0 } else { size >> level };
    is_required_bundle(id.index, id.width, count)
}

/// Whether a list of `count` items is kept in bundle `index` of `width`
/// items: a full bundle before the edge, or the partial one at it.
pub fn is_required_bundle(index: u64, width: u64, count: u64) -> bool {
    let full = count / TILE_WIDTH;
    let partial = count % TILE_WIDTH;
    (width == TILE_WIDTH && index < full) || (partial > 0 && index == full && width == partial)
}

/// The last bundle of a list of `count` items, if it has any.
pub fn last_bundle(count: u64) -> Option<(u64, u64)> {
    match (count / TILE_WIDTH, count % TILE_WIDTH) {
        (0, 0) => None,
        (full, 0) => Some((full - 1, TILE_WIDTH)),
        (full, partial) => Some((full, partial)),
    }
}

/// Builds a bundle: each item prefixed by its length as a big-endian uint16.
pub fn bundle<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    crate::tiles::entry_bundle(items)
}

/// Splits a bundle into exactly `expected` items.
pub fn split_bundle<'a>(
    what: &'static str,
    bytes: &'a [u8],
    expected: u64,
) -> Result<Vec<&'a [u8]>, PackageError> {
    let items = bundle_items(what, bytes)?;
    if items.len() as u64 != expected {
        return Err(PackageError::Count {
            what,
            found: items.len() as u64,
            expected,
        });
    }
    Ok(items)
}

/// Splits a bundle into its items, however many.
pub fn bundle_items<'a>(
    what: &'static str,
    bytes: &'a [u8],
) -> Result<Vec<&'a [u8]>, PackageError> {
    let mut items = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let item = items.len() as u64;
        if rest.len() < 2 {
            return Err(PackageError::Truncated {
                what,
                item,
                needed: 2,
                left: rest.len(),
            });
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() - 2 < len {
            return Err(PackageError::Truncated {
                what,
                item,
                needed: len,
                left: rest.len() - 2,
            });
        }
        items.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_has_one_encoding() {
        let m = Manifest {
            origin: "example.gov.cn/log".into(),
            size: 70_000,
            checkpoints: 12,
        };
        assert_eq!(Manifest::parse(m.encode().as_bytes()), Ok(m.clone()));
        let text = m.encode();
        for bad in [
            text.replace("size 70000", "size 070000"),
            text.replace("checkpoints 12\n", "checkpoints 12"),
            text.replace("origin ", "origin  "),
            text.replace("v1", "v2"),
            format!("{text}\n"),
            text.replace('\n', "\r\n"),
        ] {
            assert!(Manifest::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tiles_and_bundles_follow_tlog_tiles() {
        // The spec's example: 70,000 leaves are 273 full level-0 tiles and
        // one of width 112, one full and one of width 17 at level 1, and
        // one of width 1 at level 2.
        let tiles = hash_tiles(70_000);
        assert_eq!(tiles.len(), 274 + 2 + 1);
        assert_eq!(tile_path(&tiles[273]), "tile/0/273.p/112");
        assert_eq!(tile_path(&tiles[275]), "tile/1/001.p/17");
        assert_eq!(tile_path(&tiles[276]), "tile/2/000.p/1");
        assert!(hash_tiles(0).is_empty());
        assert_eq!(bundles(512).collect::<Vec<_>>(), vec![(0, 256), (1, 256)]);
        assert_eq!(history_path(1234, 7), "checkpoints/x001/234.p/7");
        assert_eq!(parse_history_path("x001/234.p/7"), Some((1234, 7)));
        assert_eq!(parse_history_path("001.p/256"), None);
    }

    #[test]
    fn required_files_are_those_the_tree_lists() {
        for size in [0, 1, 255, 256, 257, 65_535, 65_536, 65_537, 70_000] {
            let listed: std::collections::HashSet<TileId> = hash_tiles(size)
                .into_iter()
                .chain(bundles(size).map(|(index, width)| TileId {
                    kind: TileKind::Entries,
                    index,
                    width,
                }))
                .collect();
            for level in 0..4u8 {
                for index in 0..300 {
                    for width in [1, 112, 255, 256] {
                        for kind in [TileKind::Hashes { level }, TileKind::Entries] {
                            let id = TileId { kind, index, width };
                            assert_eq!(
                                is_required(&id, size),
                                listed.contains(&id),
                                "{size} {id:?}"
                            );
                        }
                    }
                }
            }
            assert_eq!(last_bundle(size), bundles(size).last());
        }
        // Sizes far beyond any file system: answered without listing them.
        let huge = TileId {
            kind: TileKind::Hashes { level: 0 },
            index: u64::MAX / 256 - 1,
            width: 256,
        };
        assert!(is_required(&huge, u64::MAX));
        assert!(!is_required(
            &TileId {
                index: u64::MAX / 256,
                ..huge
            },
            u64::MAX
        ));
        assert_eq!(last_bundle(u64::MAX), Some((u64::MAX / 256, 255)));
    }

    #[test]
    fn bundles_split_exactly() {
        let b = bundle([&b"ab"[..], b"", b"c"]);
        assert_eq!(
            split_bundle("b", &b, 3).unwrap(),
            vec![&b"ab"[..], b"", b"c"]
        );
        assert!(matches!(
            split_bundle("b", &b, 2),
            Err(PackageError::Count { found: 3, .. })
        ));
        assert!(matches!(
            split_bundle("b", &b[..b.len() - 1], 3),
            Err(PackageError::Truncated { item: 2, .. })
        ));
        assert!(matches!(
            split_bundle("b", &b[..1], 3),
            Err(PackageError::Truncated { item: 0, .. })
        ));
    }
}
