//! TR-106 `hexBinary` and `base64` lexical forms.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Decodes `hexBinary`: an even number of hex digits, either case.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
            _ => None,
        })
        .collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Encodes `hexBinary` in the XML Schema canonical form (upper case).
pub(crate) fn hex_encode(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// Decodes `base64` (RFC 4648 standard alphabet, with padding).
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}

/// Encodes `base64` (standard alphabet, with padding).
pub(crate) fn base64_encode(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(hex_decode("08ff0A"), Some(vec![0x08, 0xff, 0x0a]));
        assert_eq!(hex_decode(""), Some(vec![]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("0g"), None);
        let mut s = String::new();
        hex_encode(&[0x08, 0xff, 0x0a], &mut s);
        assert_eq!(s, "08FF0A");
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64_decode("aGVsbG8"), None);
        assert_eq!(base64_decode("a b="), None);
        let mut s = String::new();
        base64_encode(b"hello", &mut s);
        assert_eq!(s, "aGVsbG8=");
    }
}
