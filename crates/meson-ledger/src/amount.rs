//! Token amounts: integer base units, and their exact decimal text for people.

/// A number of base units. One token is `10^DECIMALS` base units; money never passes through a float.
pub type Amount = u128;

/// How many decimal places a token has: one base unit is `0.000000001` tokens.
pub const DECIMALS: u32 = 9;

/// Base units in one token.
pub const ONE_TOKEN: Amount = 10u128.pow(DECIMALS);

/// Why a decimal token amount could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("empty amount")]
    Empty,
    #[error("an amount has no sign: it is a non-negative number of tokens")]
    Sign,
    #[error("an amount is digits with at most one '.' between digits, like 12.5")]
    Malformed,
    #[error("an amount has at most {DECIMALS} decimal places")]
    TooManyDecimals,
    #[error("amount too large")]
    Overflow,
}

/// Reads a token amount written in decimal (`"12.5"`, `"0.000000001"`, `"3"`) as base units.
///
/// Strict so that a typo never moves money: no sign, no spaces, no exponent, no separators, a digit on
/// both sides of the point, and at most [`DECIMALS`] decimal places (even zeros: `"1.0000000000"` is
/// refused rather than silently read, because a tenth digit means the writer expected more precision).
pub fn parse_amount(text: &str) -> Result<Amount, AmountError> {
    if text.is_empty() {
        return Err(AmountError::Empty);
    }
    if text.starts_with(['+', '-']) {
        return Err(AmountError::Sign);
    }
    let (whole, frac) = match text.split_once('.') {
        Some((whole, frac)) => (whole, Some(frac)),
        None => (text, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(AmountError::Malformed);
    }
    let frac = frac.unwrap_or("");
    if frac.len() > DECIMALS as usize {
        return Err(AmountError::TooManyDecimals);
    }
    let mut units: Amount = 0;
    for b in whole.bytes() {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(Amount::from(b - b'0')))
            .ok_or(AmountError::Overflow)?;
    }
    units = units.checked_mul(ONE_TOKEN).ok_or(AmountError::Overflow)?;
    let mut fraction: Amount = 0;
    for b in frac.bytes() {
        fraction = fraction * 10 + Amount::from(b - b'0');
    }
    // Pads "5" in "12.5" to 500000000 base units.
    fraction *= 10u128.pow(DECIMALS - frac.len() as u32);
    units.checked_add(fraction).ok_or(AmountError::Overflow)
}

/// Writes base units as a decimal token amount with no trailing zeros: `"12.5"`, `"0.000000001"`, `"3"`.
/// [`parse_amount`] reads it back to the same value.
pub fn format_amount(amount: Amount) -> String {
    let whole = amount / ONE_TOKEN;
    let frac = amount % ONE_TOKEN;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = DECIMALS as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
