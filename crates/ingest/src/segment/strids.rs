//! `StrIds`: a string column's dictionary ids in the narrowest width.

use arrow_array::{Array, UInt16Array, UInt32Array, UInt8Array};
use arrow_buffer::{NullBuffer, ScalarBuffer};

use crate::value::DictId;

/// The dictionary ids of one segment's string column, one per row (null
/// where the row has no string value), stored as `u8`, `u16` or `u32` —
/// the narrowest width that holds the segment's largest id. Ids are the
/// collection dictionary's, so they compare across segments whatever the
/// width.
#[derive(Debug, Clone, PartialEq)]
pub enum StrIds {
    /// Every id is below 2^8.
    U8(UInt8Array),
    /// Every id is below 2^16.
    U16(UInt16Array),
    /// Any id.
    U32(UInt32Array),
}

impl StrIds {
    /// Narrows `ids` (rows without a value may hold any id; `nulls` says
    /// which rows are valid).
    pub fn new(ids: Vec<DictId>, nulls: Option<NullBuffer>) -> StrIds {
        let max = ids
            .iter()
            .enumerate()
            .filter(|(r, _)| nulls.as_ref().is_none_or(|n| n.is_valid(*r)))
            .map(|(_, &v)| v)
            .max()
            .unwrap_or(0);
        if max <= u32::from(u8::MAX) {
            let v: Vec<u8> = ids.iter().map(|&v| v as u8).collect();
            StrIds::U8(UInt8Array::new(ScalarBuffer::from(v), nulls))
        } else if max <= u32::from(u16::MAX) {
            let v: Vec<u16> = ids.iter().map(|&v| v as u16).collect();
            StrIds::U16(UInt16Array::new(ScalarBuffer::from(v), nulls))
        } else {
            StrIds::U32(UInt32Array::new(ScalarBuffer::from(ids), nulls))
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.as_array().len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The validity of each row.
    pub fn nulls(&self) -> Option<&NullBuffer> {
        self.as_array().nulls()
    }

    /// True when row `i` holds a string.
    pub fn is_valid(&self, i: usize) -> bool {
        self.as_array().is_valid(i)
    }

    /// The id at row `i` (meaningless where the row is null).
    pub fn value(&self, i: usize) -> DictId {
        match self {
            StrIds::U8(a) => DictId::from(a.value(i)),
            StrIds::U16(a) => DictId::from(a.value(i)),
            StrIds::U32(a) => a.value(i),
        }
    }

    /// Every row's id, `None` where the row is null.
    pub fn iter(&self) -> impl Iterator<Item = Option<DictId>> + '_ {
        (0..self.len()).map(move |i| self.is_valid(i).then(|| self.value(i)))
    }

    /// Every row's id widened to `u32` (nulls hold an arbitrary id).
    pub fn values_u32(&self) -> Vec<DictId> {
        match self {
            StrIds::U8(a) => a.values().iter().map(|&v| DictId::from(v)).collect(),
            StrIds::U16(a) => a.values().iter().map(|&v| DictId::from(v)).collect(),
            StrIds::U32(a) => a.values().to_vec(),
        }
    }

    /// The Arrow array.
    pub fn as_array(&self) -> &dyn Array {
        match self {
            StrIds::U8(a) => a,
            StrIds::U16(a) => a,
            StrIds::U32(a) => a,
        }
    }
}

impl From<UInt32Array> for StrIds {
    fn from(a: UInt32Array) -> StrIds {
        let nulls = a.nulls().cloned();
        StrIds::new(a.values().to_vec(), nulls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowest_width_that_holds_the_largest_valid_id() {
        let nulls = Some(NullBuffer::from(vec![true, false, true]));
        assert!(matches!(StrIds::new(vec![3, 70_000, 255], nulls.clone()), StrIds::U8(_)));
        assert!(matches!(StrIds::new(vec![3, 0, 256], nulls.clone()), StrIds::U16(_)));
        let w = StrIds::new(vec![65_536, 0, 1], nulls);
        assert!(matches!(w, StrIds::U32(_)));
        assert_eq!(w.iter().collect::<Vec<_>>(), [Some(65_536), None, Some(1)]);
        assert_eq!(w.values_u32()[0], 65_536);
        assert!(matches!(StrIds::new(vec![], None), StrIds::U8(_)));
    }
}
