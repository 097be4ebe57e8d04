//! A chain head an auditor recorded earlier, to check an export's end against.

use crate::hash::{unhex, Hash};
use trove_engine::Seq;

/// A chain head an auditor recorded earlier: the hash of the block ending at
/// `seq`, as `trove verify` prints it (`chain head: seq 7, block hash …`) and
/// as an export's footer gives it (`last_seq`, `last_hash`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// The last sequence of the block.
    pub seq: Seq,
    /// The block's hash.
    pub hash: Hash,
}

impl ChainHead {
    /// `SEQ:HASH`, the hash as 64 hex digits.
    ///
    /// ```
    /// let h = "688ec99ece3c24d9932a28c9e38720710fc00df6434c7a293a39ba0b3fc6d2be";
    /// assert_eq!(trove_audit::ChainHead::parse(&format!("7:{h}")).unwrap().seq, 7);
    /// ```
    pub fn parse(s: &str) -> Result<ChainHead, String> {
        let (seq, hash) = s.trim().split_once(':').ok_or_else(|| {
            format!("{s:?} is not SEQ:HASH (like 7:688ec99e…d2be, as trove verify prints the chain head)")
        })?;
        let seq = seq
            .trim()
            .parse::<Seq>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("{seq:?} is not a sequence number (1 or more)"))?;
        let hash = hash.trim();
        let hash = Some(hash)
            .filter(|h| h.len() == 64)
            .and_then(unhex)
            .ok_or_else(|| format!("{hash:?} is not a block hash (64 hex digits)"))?;
        Ok(ChainHead { seq, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hex;

    #[test]
    fn chain_heads_parse() {
        let h = "688ec99ece3c24d9932a28c9e38720710fc00df6434c7a293a39ba0b3fc6d2be";
        let head = ChainHead::parse(&format!("7:{h}")).unwrap();
        assert_eq!((head.seq, hex(&head.hash)), (7, h.to_string()));
        assert_eq!(ChainHead::parse(&format!(" 7 : {} ", h.to_uppercase())).unwrap(), head);
        for bad in [
            String::new(),
            "7".into(),
            format!("0:{h}"),
            format!("x:{h}"),
            format!("7:{}", &h[..63]),
            format!("7:{h}0"),
            format!("7:{}", "g".repeat(64)),
        ] {
            assert!(ChainHead::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
