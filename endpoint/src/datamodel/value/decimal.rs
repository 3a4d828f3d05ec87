//! TR-106 `decimal`: an exact fixed-point number.
//!
//! Stored as an `i128` counting units of 10⁻¹⁸, so every `int`,
//! `unsignedInt`, `long` and `unsignedLong` value converts to a [`Decimal`]
//! exactly. That lets range facets and search-expression comparisons treat
//! all numeric types alike (`123`, `+123`, `0123` and `123.0` compare
//! equal) without floating-point rounding.

use std::fmt;
use std::str::FromStr;

/// Number of fractional digits a [`Decimal`] keeps.
pub const FRACTION_DIGITS: u32 = 18;

/// 10¹⁸: the scale of the stored integer.
const ONE: i128 = 1_000_000_000_000_000_000;

/// An exact decimal number with up to 18 fractional digits and an integer
/// part of magnitude below 1.7 × 10²⁰.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(i128);

/// Why a string is not a [`Decimal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not of the form `[+-]digits[.digits]`.
    #[error("not a decimal number")]
    Syntax,
    /// The integer part is too large to represent.
    #[error("decimal number too large")]
    Overflow,
    /// More than 18 significant fractional digits.
    #[error("more than 18 fractional digits")]
    Precision,
}

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal(0);

    /// Parses the `xs:decimal` lexical form: optional sign, digits with an
    /// optional fractional part (`21.5`, `-0.25`, `+7`, `.5`, `5.`). Digits
    /// beyond the 18th fractional place are accepted only when they are
    /// zeros.
    pub fn parse(s: &str) -> Result<Decimal, DecimalError> {
        let (negative, rest) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let mut int: i128 = 0;
        let mut frac: i128 = 0;
        let mut frac_digits: u32 = 0;
        let mut digits = 0usize;
        let mut in_fraction = false;
        for b in rest.bytes() {
            match b {
                b'0'..=b'9' => {
                    digits += 1;
                    let d = i128::from(b - b'0');
                    if in_fraction {
                        if frac_digits < FRACTION_DIGITS {
                            frac = frac * 10 + d;
                            frac_digits += 1;
                        } else if d != 0 {
                            return Err(DecimalError::Precision);
                        }
                    } else {
                        int = int
                            .checked_mul(10)
                            .and_then(|v| v.checked_add(d))
                            .ok_or(DecimalError::Overflow)?;
                        if int > i128::MAX / ONE {
                            return Err(DecimalError::Overflow);
                        }
                    }
                }
                b'.' if !in_fraction => in_fraction = true,
                _ => return Err(DecimalError::Syntax),
            }
        }
        if digits == 0 {
            return Err(DecimalError::Syntax);
        }
        let scaled_frac = frac * 10i128.pow(FRACTION_DIGITS - frac_digits);
        let magnitude =
            int.checked_mul(ONE).and_then(|v| v.checked_add(scaled_frac)).ok_or(DecimalError::Overflow)?;
        Ok(Decimal(if negative { -magnitude } else { magnitude }))
    }

    /// The value in units of 10⁻¹⁸.
    pub fn to_scaled(self) -> i128 {
        self.0
    }

    /// Builds a value from units of 10⁻¹⁸.
    pub fn from_scaled(units: i128) -> Decimal {
        Decimal(units)
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        self.0.checked_add(other.0).map(Decimal)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        self.0.checked_sub(other.0).map(Decimal)
    }

    /// The integer part if the value is a whole number.
    pub fn to_integer(self) -> Option<i128> {
        (self.0 % ONE == 0).then_some(self.0 / ONE)
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Decimal, DecimalError> {
        Decimal::parse(s)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Decimal {
            fn from(v: $t) -> Decimal {
                Decimal(i128::from(v) * ONE)
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64);

/// Canonical form: no `+`, no leading zeros, no trailing fractional zeros,
/// no `.` for whole numbers, no negative zero (`21.50` → `21.5`).
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.unsigned_abs();
        // One 128-bit division; the rest in 64 bits (the fraction is below
        // 10^18, and so is the integer part of every value a sensor sends).
        let int = magnitude / ONE.unsigned_abs();
        let mut frac = u64::try_from(magnitude - int * ONE.unsigned_abs()).unwrap_or(0);
        if self.0 < 0 {
            f.write_str("-")?;
        }
        match u64::try_from(int) {
            Ok(small) => write!(f, "{small}")?,
            Err(_) => write!(f, "{int}")?,
        }
        if frac != 0 {
            let mut width = FRACTION_DIGITS as usize;
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_and_formats_canonically() {
        for (input, canonical) in [
            ("21.5", "21.5"),
            ("21.50", "21.5"),
            ("+7", "7"),
            ("0007", "7"),
            ("-0.0", "0"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-0.000000000000000001", "-0.000000000000000001"),
            ("123.000000000000000000000", "123"),
            ("-40", "-40"),
        ] {
            assert_eq!(d(input).to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "+", "-", ".", "1.2.3", "1e5", " 1", "1 ", "0x10", "--1", "1,5"] {
            assert_eq!(Decimal::parse(bad), Err(DecimalError::Syntax), "{bad:?}");
        }
        assert_eq!(Decimal::parse("0.0000000000000000001"), Err(DecimalError::Precision));
        assert_eq!(Decimal::parse("1000000000000000000000"), Err(DecimalError::Overflow));
    }

    #[test]
    fn integers_convert_exactly_and_compare_numerically() {
        assert_eq!(Decimal::from(u64::MAX).to_string(), u64::MAX.to_string());
        assert_eq!(Decimal::from(i64::MIN).to_string(), i64::MIN.to_string());
        assert_eq!(d("0123"), Decimal::from(123));
        assert!(d("21.5") > d("21"));
        assert!(d("-1") < d("0.5"));
        assert_eq!(d("40").to_integer(), Some(40));
        assert_eq!(d("40.5").to_integer(), None);
    }

    proptest! {
        #[test]
        fn display_round_trips(units in any::<i64>(), scale in 0u32..=18) {
            let v = Decimal::from_scaled(i128::from(units) * 10i128.pow(18 - scale.min(18)));
            prop_assert_eq!(Decimal::parse(&v.to_string()), Ok(v));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Decimal::parse(&s);
        }
    }
}
