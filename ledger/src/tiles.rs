//! C2SP tlog-tiles addressing: which hashes and entries a tile holds, and
//! its path (<https://c2sp.org/tlog-tiles>).
//!
//! A tile at level `L`, index `N`, width `W` holds the `W` consecutive hashes
//! at tree level `8·L` starting at index `256·N`: at level 0 leaf hashes, above
//! that the roots of full tiles of the level below. An entry bundle `N` holds
//! the entries of level-0 tile `N`, each prefixed by its length as a
//! big-endian uint16. Full tiles have `W = 256`; partial tiles (`.p/W`) have
//! `1 ≤ W ≤ 255`.

/// Tiles are 2^8 = 256 hashes wide.
pub const TILE_HEIGHT: u8 = 8;
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// What a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Merkle tree hashes at tile level `level`.
    Hashes { level: u8 },
    /// An entry bundle.
    Entries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub kind: TileKind,
    pub index: u64,
    /// 1..=256; 256 is a full tile.
    pub width: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a tile path: {0}")]
pub struct BadTilePath(pub String);

impl TileId {
    /// Parses the part of the URL after `/tile/`: `<L>/<N>[.p/<W>]` or
    /// `entries/<N>[.p/<W>]`. Only the canonical encoding is accepted, so each
    /// tile has exactly one URL (good for caches).
    pub fn parse(path: &str) -> Result<TileId, BadTilePath> {
        let bad = || BadTilePath(path.to_owned());
        let (head, rest) = path.split_once('/').ok_or_else(bad)?;
        let kind = if head == "entries" {
            TileKind::Entries
        } else {
            let level = parse_small_decimal(head)
                .filter(|&l| l <= 63)
                .ok_or_else(bad)?;
            TileKind::Hashes { level: level as u8 }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => (
                i,
                parse_small_decimal(w)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(bad)?,
            ),
            None => (rest, TILE_WIDTH),
        };
        let index = parse_index(index_part).ok_or_else(bad)?;
        Ok(TileId { kind, index, width })
    }

    /// The path after `/tile/`.
    pub fn path(&self) -> String {
        let head = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let partial = if self.width == TILE_WIDTH {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("{head}/{}{partial}", encode_index(self.index))
    }

    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// Tree level of the hashes in this tile (0 for entry bundles). Tile
    /// levels go up to 63 (C2SP tlog-tiles), so this goes up to 504, far
    /// above the 64 levels a tree of at most 2^64 leaves has.
    pub fn tree_level(&self) -> u32 {
        match self.kind {
            TileKind::Hashes { level } => u32::from(level) * u32::from(TILE_HEIGHT),
            TileKind::Entries => 0,
        }
    }

    /// Index, at [`TileId::tree_level`], of the first hash (or entry) in the tile.
    pub fn first(&self) -> Option<u64> {
        self.index.checked_mul(TILE_WIDTH)
    }

    /// Whether the tree of `size` leaves has all of this tile's hashes. Any
    /// width that exists is served, so every published size's partial tiles
    /// are available.
    pub fn exists_in(&self, size: u64) -> bool {
        let level = self.tree_level();
        let complete = if level >= 64 { 0 } else { size >> level };
        match self.first().and_then(|f| f.checked_add(self.width)) {
            Some(end) => end <= complete,
            None => false,
        }
    }
}

fn parse_small_decimal(s: &str) -> Option<u64> {
    crate::decimal::parse(s).filter(|_| s.len() <= 3)
}

/// `1234067` → `x001/x234/067`.
pub fn encode_index(mut n: u64) -> String {
    let mut out = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        out = format!("x{:03}/{out}", n % 1000);
    }
    out
}

fn parse_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, init) = parts.split_last()?;
    let mut n: u64 = 0;
    for (i, p) in init.iter().enumerate() {
        let digits = p.strip_prefix('x')?;
        if digits.len() != 3
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (i == 0 && digits == "000")
        {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.checked_mul(1000)?.checked_add(last.parse().ok()?)
}

/// An entry bundle: each entry prefixed by its length as a big-endian uint16.
pub fn entry_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).expect("entries are at most 65,535 bytes");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_follows_the_spec_example() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(1000), "x001/000");
        for n in [0, 1, 999, 1000, 1001, 1234067, u64::MAX] {
            assert_eq!(parse_index(&encode_index(n)), Some(n));
        }
    }

    #[test]
    fn paths_parse_canonically() {
        let t = TileId::parse("0/x001/x234/067.p/8").unwrap();
        assert_eq!(
            t,
            TileId {
                kind: TileKind::Hashes { level: 0 },
                index: 1234067,
                width: 8
            }
        );
        assert_eq!(t.path(), "0/x001/x234/067.p/8");
        let e = TileId::parse("entries/002").unwrap();
        assert_eq!((e.kind, e.index, e.width), (TileKind::Entries, 2, 256));
        for bad in [
            "0/1",
            "0/0001",
            "0/x000/001",
            "0/001.p/256",
            "0/001.p/0",
            "0/001.p/08",
            "64/000",
            "01/000",
            "0/x01/000",
            "x/000",
            "0/001/",
            "entries/x1",
            "0%2F000.p%2F6",
            "0/00%30.p/6",
            "0/000.p/%36",
        ] {
            assert!(TileId::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn availability_matches_the_spec_example() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
        // tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
        // partial level 2 tile of width 1."
        let t = |level, index, width| TileId {
            kind: TileKind::Hashes { level },
            index,
            width,
        };
        assert!(t(0, 272, 256).exists_in(70_000));
        assert!(!t(0, 273, 256).exists_in(70_000));
        assert!(t(0, 273, 112).exists_in(70_000));
        assert!(!t(0, 273, 113).exists_in(70_000));
        assert!(t(1, 0, 256).exists_in(70_000));
        assert!(t(1, 1, 17).exists_in(70_000));
        assert!(!t(1, 1, 18).exists_in(70_000));
        assert!(t(2, 0, 1).exists_in(70_000));
        assert!(!t(2, 0, 2).exists_in(70_000));
        assert!(!t(3, 0, 1).exists_in(70_000));
        // Levels whose tree level is past 64 (or past u8) exist in no tree.
        for level in [8, 31, 32, 63] {
            assert!(!t(level, 0, 1).exists_in(u64::MAX));
            assert!(!t(level, 999_999, 256).exists_in(u64::MAX));
        }
        assert!(t(7, 0, 1).exists_in(u64::MAX));
    }

    #[test]
    fn bundles_are_length_prefixed() {
        assert_eq!(
            entry_bundle([&b"ab"[..], b""]),
            vec![0, 2, b'a', b'b', 0, 0]
        );
    }
}
