//! A byte cursor over the input, with the lexical pieces every path grammar
//! shares: names, positive numbers, reference hops, whitespace.
//!
//! It works on bytes: every delimiter of the grammar is ASCII, so the
//! cursor only ever stops on a character boundary and slices of the input
//! are always valid `str`s. No access here can panic: reads go through
//! `get`, and positions only move past bytes that were just seen.

use super::ast::RefItem;
use super::error::{Expected, PathError, PathErrorKind};

pub(super) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

/// First character of a name: `[A-Za-z_]`.
pub(super) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Later characters of a name: `[A-Za-z0-9_]`.
pub(super) fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Cursor<'a> {
    pub(super) fn new(src: &'a str) -> Cursor<'a> {
        Cursor { src, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Length of the whole input.
    pub(super) fn len(&self) -> usize {
        self.src.len()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    /// The byte after the next one.
    pub(super) fn peek2(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos + 1).copied()
    }

    /// The unread input.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.src.as_bytes().get(self.pos..).unwrap_or_default()
    }

    /// The input between two positions the cursor has visited.
    pub(super) fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or_default()
    }

    /// Moves past `n` bytes the caller has just looked at.
    pub(super) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.src.len());
    }

    pub(super) fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Consumes `b` or fails with [`PathErrorKind::Unexpected`].
    pub(super) fn expect(&mut self, b: u8, expected: Expected) -> Result<(), PathError> {
        if self.eat(b) { Ok(()) } else { Err(self.unexpected(expected)) }
    }

    /// Fails unless the whole input has been read.
    pub(super) fn expect_end(&self, expected: Expected) -> Result<(), PathError> {
        if self.at_end() { Ok(()) } else { Err(self.unexpected(expected)) }
    }

    /// Skips ASCII whitespace (tolerated inside search expressions only,
    /// R-ARC.9a).
    pub(super) fn skip_ws(&mut self) {
        let n = self.rest().iter().take_while(|b| b.is_ascii_whitespace()).count();
        self.pos += n;
    }

    /// The character at the cursor, for error messages.
    pub(super) fn current_char(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    pub(super) fn error(&self, kind: PathErrorKind) -> PathError {
        PathError::new(kind, self.pos)
    }

    pub(super) fn unexpected(&self, expected: Expected) -> PathError {
        self.error(PathErrorKind::Unexpected { found: self.current_char(), expected })
    }

    /// A name, `[A-Za-z_][A-Za-z0-9_]*`.
    pub(super) fn name(&mut self) -> Result<&'a str, PathError> {
        match self.peek() {
            Some(b) if is_name_start(b) => {}
            Some(b'0'..=b'9') => return Err(self.error(PathErrorKind::NameStartsWithDigit)),
            _ => return Err(self.error(PathErrorKind::ExpectedName { found: self.current_char() })),
        }
        let start = self.pos;
        let n = self.rest().iter().take_while(|b| is_name_char(**b)).count();
        self.pos += n;
        Ok(self.slice(start, self.pos))
    }

    /// A positive number without leading zeros that fits a `u32`; the
    /// cursor must be on a digit. Errors point at the number's first digit.
    pub(super) fn posnum(&mut self) -> Result<u32, PathError> {
        let start = self.pos;
        let digits = self.rest().iter().take_while(|b| b.is_ascii_digit()).count();
        let text = self.rest().get(..digits).unwrap_or_default();
        let kind = match text {
            // Callers only come here on a digit; answer sensibly anyway.
            [] => return Err(self.unexpected(Expected::RefIndex)),
            [b'0'] => Some(PathErrorKind::ZeroNumber),
            [b'0', ..] => Some(PathErrorKind::LeadingZero),
            _ => None,
        };
        if let Some(kind) = kind {
            return Err(PathError::new(kind, start));
        }
        let value =
            text.iter().try_fold(0u32, |acc, d| acc.checked_mul(10)?.checked_add(u32::from(d - b'0')));
        let value = value.ok_or_else(|| PathError::new(PathErrorKind::NumberTooLarge, start))?;
        self.pos += digits;
        Ok(value)
    }

    /// A reference hop's marker after the parameter name: `+`, `#n+` or
    /// `#*+`. The cursor must be on `+` or `#`.
    pub(super) fn ref_item(&mut self) -> Result<RefItem, PathError> {
        if self.eat(b'+') {
            return Ok(RefItem::First);
        }
        self.expect(b'#', Expected::AfterName)?;
        let item = match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                RefItem::All
            }
            Some(b'0'..=b'9') => RefItem::Index(self.posnum()?),
            _ => return Err(self.unexpected(Expected::RefIndex)),
        };
        self.expect(b'+', Expected::Plus)?;
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Result<u32, PathErrorKind> {
        Cursor::new(s).posnum().map_err(|e| e.kind().clone())
    }

    #[test]
    fn positive_numbers() {
        assert_eq!(num("1"), Ok(1));
        assert_eq!(num("42."), Ok(42));
        assert_eq!(num("4294967295"), Ok(u32::MAX));
        assert_eq!(num("4294967296"), Err(PathErrorKind::NumberTooLarge));
        assert_eq!(num("99999999999999999999999"), Err(PathErrorKind::NumberTooLarge));
        assert_eq!(num("0"), Err(PathErrorKind::ZeroNumber));
        assert_eq!(num("0."), Err(PathErrorKind::ZeroNumber));
        assert_eq!(num("01"), Err(PathErrorKind::LeadingZero));
        assert_eq!(num("00"), Err(PathErrorKind::LeadingZero));
    }

    #[test]
    fn names_stop_at_the_first_non_name_character() {
        let mut c = Cursor::new("X_00256D_Foo.Bar");
        assert_eq!(c.name(), Ok("X_00256D_Foo"));
        assert_eq!(c.pos(), 12);
        assert_eq!(Cursor::new("_a-b").name(), Ok("_a"));
        assert_eq!(
            Cursor::new("2G").name().map_err(|e| e.kind().clone()),
            Err(PathErrorKind::NameStartsWithDigit)
        );
        assert_eq!(
            Cursor::new("é").name().map_err(|e| e.kind().clone()),
            Err(PathErrorKind::ExpectedName { found: Some('é') })
        );
    }

    #[test]
    fn reference_items() {
        let item = |s: &str| Cursor::new(s).ref_item().map_err(|e| (e.kind().clone(), e.offset()));
        assert_eq!(item("+"), Ok(RefItem::First));
        assert_eq!(item("#2+"), Ok(RefItem::Index(2)));
        assert_eq!(item("#*+"), Ok(RefItem::All));
        assert_eq!(item("#0+"), Err((PathErrorKind::ZeroNumber, 1)));
        assert_eq!(item("#2"), Err((PathErrorKind::Unexpected { found: None, expected: Expected::Plus }, 2)));
        assert_eq!(
            item("#x+"),
            Err((PathErrorKind::Unexpected { found: Some('x'), expected: Expected::RefIndex }, 1))
        );
    }
}
