//! Property names remembered from the record before, by place.
//!
//! A stream's records name their properties alike and in the same order, so the name at
//! each place of a record is most often the one at that place of the record before. Bytes
//! equal to a name the scan checked before — no quote, backslash or control character, then
//! its closing quote — need no second look: two masked word comparisons say so, where the
//! scan costs a word-at-a-time search and its setup. Any other name is scanned as before,
//! and remembered in its place.

/// Places remembered: a record's first properties (memory stays small and bounded).
const PLACES: usize = 64;

/// The most bytes of a remembered name, its closing quote included.
const NAME_BYTES: usize = 16;

/// A name the scan checked at some place: its bytes and closing quote as two little-endian
/// words, what follows masked off.
#[derive(Clone, Copy, Default)]
pub(super) struct KnownName {
    words: [u64; 2],
    masks: [u64; 2],
    /// Bytes of the name and its quote; 0: none known (a zero mask would match anything).
    length: usize,
}

/// The names of the record before, by place.
pub(super) type KnownNames = Vec<KnownName>;

/// How many bytes from `from` (just after a name's opening quote) are the name known at
/// `place` and its closing quote; `None` when they are not (or too few bytes are left to
/// compare as two words).
#[inline(always)]
pub(super) fn known_length(
    known: &[KnownName],
    place: usize,
    bytes: &[u8],
    from: usize,
) -> Option<usize> {
    let name = known.get(place)?;
    let (low, rest) = bytes.get(from..)?.split_first_chunk::<8>()?;
    let (high, _) = rest.split_first_chunk::<8>()?;
    let same = u64::from_le_bytes(*low) & name.masks[0] == name.words[0]
        && u64::from_le_bytes(*high) & name.masks[1] == name.words[1];
    (same && name.length != 0).then_some(name.length)
}

/// Remembers `name_and_quote` — a name the scan found free of quotes, backslashes and
/// control characters, and its closing quote — at `place`; a longer one than two words
/// hold, or a place past the first [`PLACES`], is not remembered.
pub(super) fn remember(known: &mut KnownNames, place: usize, name_and_quote: &[u8]) {
    if place >= PLACES {
        return;
    }
    if known.len() <= place {
        known.resize(place + 1, KnownName::default());
    }
    let length = name_and_quote.len();
    let mut bytes = [0u8; NAME_BYTES];
    let mut mask = [0u8; NAME_BYTES];
    if let (Some(to), Some(ones)) = (bytes.get_mut(..length), mask.get_mut(..length)) {
        to.copy_from_slice(name_and_quote);
        ones.fill(0xff);
    }
    let word = |half: &[u8; NAME_BYTES], at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&half[at..at + 8]);
        u64::from_le_bytes(word)
    };
    known[place] = KnownName {
        words: [word(&bytes, 0), word(&bytes, 8)],
        masks: [word(&mask, 0), word(&mask, 8)],
        length: if length <= NAME_BYTES { length } else { 0 },
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::Rng;

    #[test]
    fn a_remembered_name_matches_exactly_its_own_bytes_and_quote() {
        let mut rng = Rng(0x94d0_49bb_1331_11eb);
        let mut known = KnownNames::new();
        for round in 0..20_000 {
            let place = rng.below(4);
            let length = rng.below(NAME_BYTES + 3);
            let mut name: Vec<u8> = (0..length).map(|_| b'a' + rng.below(3) as u8).collect();
            name.push(b'"');
            remember(&mut known, place, &name);
            // The line: an opening quote, then either the name again or a copy with one
            // byte changed, then whatever follows (sometimes too little to compare).
            let mut line = b"\"".to_vec();
            let mut probe = name.clone();
            if round % 2 == 0 {
                let at = rng.below(probe.len());
                probe[at] = b"ab\"x"[rng.below(4)];
            }
            line.extend_from_slice(&probe);
            line.extend((0..rng.below(20)).map(|_| b":1,\"a"[rng.below(5)]));
            let expected = (name.len() <= NAME_BYTES
                && line.len() > NAME_BYTES
                && line[1..].starts_with(&name))
            .then_some(name.len());
            assert_eq!(
                known_length(&known, place, &line, 1),
                expected,
                "{:?} against {:?}",
                String::from_utf8_lossy(&name),
                String::from_utf8_lossy(&line)
            );
        }
        assert_eq!(
            known_length(&known, PLACES + 3, b"\"a\"..............", 1),
            None
        );
        remember(&mut known, PLACES, b"a\"");
        assert_eq!(known.len(), 4);
    }
}
