//! `EventIds`: a segment's `keen.id`s, split and stored frame-of-reference.

use super::Ints;
use crate::value::EventId;

/// The `keen.id` of every row. An id is `seconds (4) | per-open random
/// prefix (4) | counter (4)`; within a segment the seconds span the
/// minutes it took to fill, the prefix changes only on reopen and the
/// counter spans about the segment's size, so each part is kept as
/// [`Ints`] (typically 1–2, 1 and 4 bytes per row instead of 12).
#[derive(Debug, Clone, PartialEq)]
pub struct EventIds {
    parts: [Ints; 3],
}

impl EventIds {
    /// Encodes `ids`.
    pub fn new(ids: &[EventId]) -> EventIds {
        let part = |k: usize| {
            let v = ids
                .iter()
                .map(|id| {
                    let b: [u8; 4] = id.0[4 * k..4 * k + 4].try_into().expect("4 bytes");
                    i64::from(u32::from_be_bytes(b))
                })
                .collect();
            Ints::new(v, None)
        };
        EventIds { parts: [part(0), part(1), part(2)] }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.parts[0].len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of row `i`.
    pub fn get(&self, i: usize) -> EventId {
        let mut b = [0u8; 12];
        for (k, p) in self.parts.iter().enumerate() {
            b[4 * k..4 * k + 4].copy_from_slice(&(p.value(i) as u32).to_be_bytes());
        }
        EventId(b)
    }

    /// Every row's id, in row order.
    pub fn iter(&self) -> impl Iterator<Item = EventId> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Resident bytes of the stored arrays.
    pub fn memory_bytes(&self) -> usize {
        self.parts.iter().map(|p| p.as_array().get_array_memory_size()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ids() {
        let ids: Vec<EventId> = (0..300u32)
            .map(|i| {
                let mut b = [0u8; 12];
                b[..4].copy_from_slice(&(1_718_202_920 + i / 100).to_be_bytes());
                b[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
                b[8..].copy_from_slice(&(u32::MAX - 150).wrapping_add(i).to_be_bytes());
                EventId(b)
            })
            .chain([EventId([0xff; 12]), EventId([0; 12])])
            .collect();
        let e = EventIds::new(&ids);
        assert_eq!(e.iter().collect::<Vec<_>>(), ids);
        assert!(EventIds::new(&[]).is_empty());
    }
}
