//! Money: ISO 4217 currencies and exact amounts in minor units.
//!
//! JSON carries amounts as decimals in major units (`19.99`); inside Rampart they are exact
//! integers of minor units (`1999` cents), so sums and thresholds never suffer float rounding.

use std::fmt;

/// An ISO 4217 currency code, such as `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

/// Active ISO 4217 codes whose minor unit is 2 digits.
const TWO_DIGITS: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP \
BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ \
GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU \
MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD \
SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR \
ZMW ZWG";
/// Codes without a minor unit.
const ZERO_DIGITS: &str = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
/// Codes with 3-digit minor units.
const THREE_DIGITS: &str = "BHD IQD JOD KWD LYD OMR TND";
/// Codes with 4-digit minor units.
const FOUR_DIGITS: &str = "CLF UYW";

impl Currency {
    /// Looks up an ISO 4217 code (upper case, as the standard writes it).
    pub fn from_code(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let known = [TWO_DIGITS, ZERO_DIGITS, THREE_DIGITS, FOUR_DIGITS].iter().any(|list| list.split(' ').any(|c| c == code));
        known.then_some(Currency(bytes))
    }

    /// The code, like `EUR`.
    pub fn code(&self) -> &str {
        // The bytes were checked to be ASCII upper case when the value was made.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point in this currency (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn exponent(&self) -> u32 {
        let code = self.code();
        let is_in = |list: &str| list.split(' ').any(|c| c == code);
        if is_in(ZERO_DIGITS) {
            0
        } else if is_in(THREE_DIGITS) {
            3
        } else if is_in(FOUR_DIGITS) {
            4
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An exact amount of money: an integer of minor units and its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// The amount in minor units (cents for EUR, yen for JPY).
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Parses a non-negative decimal in major units (`"19.99"`, `"5"`), refusing more fraction
    /// digits than the currency has, exponents, signs and amounts of 10^11 major units or more (so that JSON numbers,
    /// which are doubles, carry every amount exactly).
    pub fn parse_major(text: &str, currency: Currency) -> Option<Money> {
        let exponent = currency.exponent();
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 11 || !digits_only(whole) || !digits_only(fraction) {
            return None;
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > exponent as usize {
            return None;
        }
        let mut minor: i64 = whole.parse().ok()?;
        minor = minor.checked_mul(10_i64.pow(exponent))?;
        if !fraction.is_empty() {
            let frac: i64 = fraction.parse().ok()?;
            minor = minor.checked_add(frac * 10_i64.pow(exponent - fraction.len() as u32))?;
        }
        Some(Money { minor, currency })
    }

    /// The amount in major units as a decimal string, with the currency's digits (`"19.90"`).
    pub fn to_major_string(&self) -> String {
        let exponent = self.currency.exponent();
        if exponent == 0 {
            return self.minor.to_string();
        }
        let scale = 10_i64.pow(exponent);
        format!("{}.{:0width$}", self.minor / scale, self.minor % scale, width = exponent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn currencies_and_exponents() {
        assert_eq!(eur().exponent(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::from_code("eur"), None);
        assert_eq!(Currency::from_code("ABC"), None);
        assert_eq!(Currency::from_code("EURO"), None);
    }

    #[test]
    fn exact_minor_units() {
        assert_eq!(Money::parse_major("19.99", eur()).unwrap().minor, 1999);
        assert_eq!(Money::parse_major("19.9", eur()).unwrap().minor, 1990);
        assert_eq!(Money::parse_major("19.900", eur()).unwrap().minor, 1990);
        assert_eq!(Money::parse_major("5", eur()).unwrap().minor, 500);
        assert_eq!(Money::parse_major("0.1", eur()).unwrap().to_major_string(), "0.10");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::parse_major("1500", jpy).unwrap().minor, 1500);
        assert_eq!(Money::parse_major("1500.5", jpy), None);
        for bad in ["19.999", "-1", "1e3", "", ".5", "1.2.3", "999999999999"] {
            assert_eq!(Money::parse_major(bad, eur()), None, "{bad}");
        }
    }
}
