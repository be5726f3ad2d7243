//! A categorical feature's value (`tcp`, `ftp_data`, `S0`): a short token, kept
//! inside the record rather than on the heap.
//!
//! A batch of 10,000 records had 30,000 of these as `String`s: an allocation and a
//! free each, a tenth of the CSV path's time. A word is at most
//! [`MAX_CATEGORY_CHARS`] ASCII bytes, so it fits in a fixed array; a record grows by
//! 123 bytes (1.2 MB for 10,000), which the batch's memory target has room for.

use std::fmt;

/// Longest accepted categorical value; real ones are a few characters.
pub(crate) const MAX_CATEGORY_CHARS: usize = 64;

/// What a categorical value may be made of: a token of printable ASCII without spaces
/// or commas (`tcp`, `ftp_data`, `S0`, `Z39_50`). A comma could not travel in a CSV
/// record, and a value must read back the same from the CSV line an alert keeps as
/// evidence and `GET /feedback` exports.
pub(crate) const CATEGORY_PATTERN: &str = "^[!-+\\--~]+$";

fn is_category_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b','
}

/// A valid categorical value: 1 to [`MAX_CATEGORY_CHARS`] bytes matching
/// [`CATEGORY_PATTERN`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Word {
    len: u8,
    bytes: [u8; MAX_CATEGORY_CHARS],
}

impl Word {
    /// The word `s` is, or what is wrong with it (the message a field error carries).
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::parse_bytes(s.as_bytes())
    }

    /// Like [`Word::parse`], from the bytes of a string.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, String> {
        Self::from_bytes(bytes).ok_or_else(|| {
            let s = String::from_utf8_lossy(bytes);
            if s.is_empty() {
                "must not be empty".into()
            } else if s.chars().count() > MAX_CATEGORY_CHARS {
                format!("must be at most {MAX_CATEGORY_CHARS} characters")
            } else {
                "must be printable ASCII without spaces or commas".into()
            }
        })
    }

    /// The word `bytes` are, if they are one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty()
            || bytes.len() > MAX_CATEGORY_CHARS
            || !bytes.iter().copied().all(is_category_byte)
        {
            return None;
        }
        let mut word = Self {
            len: bytes.len() as u8,
            bytes: [0; MAX_CATEGORY_CHARS],
        };
        word.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(word)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn as_str(&self) -> &str {
        // ASCII by construction, so never the empty fallback.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<&str> for Word {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl From<Word> for String {
    fn from(word: Word) -> Self {
        word.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_a_short_token_and_reads_back_the_same() {
        for ok in ["tcp", "ftp_data", "S0", "Z39_50", "!~", &"x".repeat(64)] {
            let word = Word::parse(ok).unwrap();
            assert_eq!(word.as_str(), ok);
            assert_eq!(Word::from_bytes(ok.as_bytes()), Some(word));
        }
        for (bad, why) in [
            ("", "must not be empty"),
            (&"x".repeat(65), "must be at most 64 characters"),
            (&"é".repeat(65), "must be at most 64 characters"),
            ("a b", "must be printable ASCII without spaces or commas"),
            ("a,b", "must be printable ASCII without spaces or commas"),
            ("é", "must be printable ASCII without spaces or commas"),
        ] {
            assert_eq!(Word::parse(bad).unwrap_err(), why, "{bad:?}");
            assert_eq!(Word::from_bytes(bad.as_bytes()), None);
        }
    }
}
