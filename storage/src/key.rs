//! Key bytes stored inline when short (most keys are), so a key costs no
//! allocation of its own.

/// Longest key stored inline; the enum stays 24 bytes.
const INLINE_CAPACITY: usize = 22;

#[derive(Debug, Clone)]
pub(crate) enum KeyBytes {
    Inline {
        len: u8,
        bytes: [u8; INLINE_CAPACITY],
    },
    Heap(Box<[u8]>),
}

impl KeyBytes {
    pub(crate) fn new(key: &[u8]) -> KeyBytes {
        if key.len() <= INLINE_CAPACITY {
            let mut bytes = [0u8; INLINE_CAPACITY];
            bytes[..key.len()].copy_from_slice(key);
            KeyBytes::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            KeyBytes::Heap(key.into())
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            KeyBytes::Inline { len, bytes } => &bytes[..*len as usize],
            KeyBytes::Heap(bytes) => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_keys() {
        assert_eq!(std::mem::size_of::<KeyBytes>(), 24);
        assert_eq!(KeyBytes::new(b"short").as_slice(), b"short");
        let long = [7u8; 40];
        assert_eq!(KeyBytes::new(&long).as_slice(), &long[..]);
        assert_eq!(KeyBytes::new(b"").as_slice(), b"");
    }
}
