//! Small byte-string helpers for the codecs' hot paths.

/// `a == b`, for the short byte strings the codecs compare most (an end tag's name against its
/// start tag's, a string against a table entry): up to 16 bytes are compared as two overlapping
/// words, inline, where `==` on slices calls `memcmp`; longer ones as slices.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => load::<4>(a, 0) == load::<4>(b, 0) && load::<4>(a, n - 4) == load::<4>(b, n - 4),
        8..=16 => load::<8>(a, 0) == load::<8>(b, 0) && load::<8>(a, n - 8) == load::<8>(b, n - 8),
        _ => a == b,
    }
}

/// The `N` bytes of `s` from `at` (callers stay within `s`; zeros otherwise, on both sides).
#[inline(always)]
fn load<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
    s.get(at..at + N).and_then(|w| <[u8; N]>::try_from(w).ok()).unwrap_or([0; N])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_is_slice_equality() {
        let text = b"abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..=text.len() {
            let a = &text[..len];
            assert!(same_bytes(a, a), "{len}");
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same_bytes(a, &b), "{len}, differs at {at}");
            }
            if len > 0 {
                assert!(!same_bytes(a, &a[1..]), "{len}, lengths differ");
            }
        }
    }
}
