//! The simulated shop's world: customers with homes, devices and test cards, the catalogue, user agents and networks.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

/// The shop's origin, as seen in referers.
pub(super) const ORIGIN: &str = "https://shop.example";

/// Customer accounts in the world.
const CUSTOMERS: usize = 3000;
/// Products in the catalogue; ids run from `FIRST_PRODUCT`.
const PRODUCTS: u32 = 800;
pub(super) const FIRST_PRODUCT: u32 = 1001;
pub(super) const LAST_PRODUCT: u32 = FIRST_PRODUCT + PRODUCTS - 1;

/// A category: slug and price range in minor units.
pub(super) struct Category {
    pub slug: &'static str,
    low: u64,
    high: u64,
}

const fn cat(slug: &'static str, low: u64, high: u64) -> Category {
    Category { slug, low, high }
}

pub(super) const CATEGORIES: &[Category] = &[
    cat("shoes", 3999, 15999),
    cat("sneakers", 4999, 18999),
    cat("boots", 7999, 29999),
    cat("jackets", 5999, 49999),
    cat("t-shirts", 999, 3999),
    cat("jeans", 3999, 12999),
    cat("dresses", 2999, 14999),
    cat("bags", 2999, 89999),
    cat("accessories", 799, 5999),
    cat("watches", 9999, 129999),
    cat("sportswear", 1999, 8999),
    cat("kids", 999, 4999),
    cat("home", 1499, 19999),
    cat("beauty", 599, 7999),
    cat("sale", 499, 9999),
];

/// Search terms people type (some with apostrophes, as brand names have them).
pub(super) const SEARCHES: &[&str] = &[
    "running shoes",
    "winter jacket",
    "leather bag",
    "black dress",
    "levi's 501",
    "men's boots",
    "rain jacket",
    "wool scarf",
    "white sneakers",
    "gift card",
    "yoga pants",
    "kids sandals",
    "sunglasses",
    "backpack",
    "chelsea boots",
    "linen shirt",
    "smart watch",
    "puffer jacket",
    "trail running",
    "swim shorts",
    "hoodie",
    "socks",
    "women's parka",
    "crossbody bag",
    "sale",
    "vans",
    "adidas samba",
    "new balance 574",
];

const FIRST_NAMES: &[&str] = &[
    "anna", "ben", "clara", "david", "emma", "felix", "greta", "hannah", "jonas", "julia", "lena", "lukas", "marie", "max", "mia", "noah",
    "olivia", "paul", "sophie", "tom", "lucas", "chloe", "hugo", "lea", "louis", "alice", "james", "oliver", "amelia", "george", "isla",
    "jack", "emily", "liam", "ava", "ethan", "sara", "marco", "giulia", "pablo", "lucia", "jan", "eva", "piotr", "zofia", "erik", "astrid",
    "thomas", "laura", "daniel",
];

const LAST_NAMES: &[&str] = &[
    "mueller",
    "schmidt",
    "schneider",
    "fischer",
    "weber",
    "meyer",
    "wagner",
    "becker",
    "hoffmann",
    "koch",
    "martin",
    "bernard",
    "dubois",
    "thomas",
    "robert",
    "petit",
    "smith",
    "jones",
    "taylor",
    "brown",
    "williams",
    "wilson",
    "johnson",
    "davis",
    "miller",
    "garcia",
    "rodriguez",
    "lopez",
    "rossi",
    "russo",
    "bianchi",
    "devries",
    "jansen",
    "bakker",
    "nowak",
    "kowalski",
    "andersson",
    "johansson",
    "peeters",
    "janssens",
    "gruber",
    "huber",
    "bauer",
    "wolf",
    "neumann",
    "klein",
    "lange",
    "walker",
    "young",
    "hall",
];

/// Only the documentation domains: never a real mailbox.
pub(super) const EMAIL_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];

/// A customer country: currency, share of customers, and plausible public /16s for homes and mobile carriers.
#[derive(Debug)]
pub(super) struct Country {
    pub code: &'static str,
    pub currency: &'static str,
    weight: u32,
    home: &'static [[u8; 2]],
    mobile: &'static [[u8; 2]],
    v6: [u16; 2],
}

impl Country {
    /// Catalogue prices are set in euros; a currency with a much smaller unit multiplies them
    /// (about 11 kronor to the euro), so that a krona price is a plausible krona amount.
    pub fn price_factor(&self) -> u64 {
        match self.currency {
            "SEK" => 11,
            _ => 1,
        }
    }
}

pub(super) const COUNTRIES: &[Country] = &[
    Country {
        code: "DE",
        currency: "EUR",
        weight: 34,
        home: &[[84, 135], [91, 39], [93, 213], [79, 204], [87, 152], [217, 81]],
        mobile: &[[80, 187], [176, 4]],
        v6: [0x2a02, 0x8070],
    },
    Country {
        code: "FR",
        currency: "EUR",
        weight: 12,
        home: &[[90, 35], [86, 210], [82, 65], [109, 9], [92, 184]],
        mobile: &[[37, 166], [92, 90]],
        v6: [0x2a01, 0xcb00],
    },
    Country {
        code: "NL",
        currency: "EUR",
        weight: 8,
        home: &[[77, 170], [84, 104], [145, 130], [83, 85]],
        mobile: &[[31, 20], [62, 140]],
        v6: [0x2a02, 0xa440],
    },
    Country {
        code: "AT",
        currency: "EUR",
        weight: 6,
        home: &[[84, 113], [178, 115], [91, 115]],
        mobile: &[[212, 186], [80, 110]],
        v6: [0x2a02, 0x1748],
    },
    Country {
        code: "GB",
        currency: "GBP",
        weight: 10,
        home: &[[81, 107], [86, 170], [2, 99], [31, 53], [90, 200]],
        mobile: &[[92, 40], [148, 252]],
        v6: [0x2a00, 0x23c7],
    },
    Country {
        code: "US",
        currency: "USD",
        weight: 10,
        home: &[[73, 92], [24, 61], [98, 14], [71, 191], [68, 48], [76, 104]],
        mobile: &[[172, 56], [174, 226]],
        v6: [0x2601, 0x0184],
    },
    Country {
        code: "ES",
        currency: "EUR",
        weight: 5,
        home: &[[83, 40], [88, 12], [79, 148]],
        mobile: &[[37, 10], [85, 58]],
        v6: [0x2a0c, 0x5a80],
    },
    Country {
        code: "IT",
        currency: "EUR",
        weight: 5,
        home: &[[79, 40], [151, 38], [93, 41]],
        mobile: &[[5, 90], [2, 44]],
        v6: [0x2a01, 0x0e34],
    },
    Country {
        code: "BE",
        currency: "EUR",
        weight: 4,
        home: &[[81, 240], [109, 128], [94, 224]],
        mobile: &[[178, 144], [37, 62]],
        v6: [0x2a02, 0xa03f],
    },
    Country {
        code: "PL",
        currency: "EUR",
        weight: 3,
        home: &[[83, 24], [89, 64], [31, 61]],
        mobile: &[[37, 47], [5, 172]],
        v6: [0x2a02, 0xa311],
    },
    Country {
        code: "SE",
        currency: "SEK",
        weight: 3,
        home: &[[90, 224], [83, 248], [81, 230]],
        mobile: &[[78, 67], [2, 64]],
        v6: [0x2001, 0x9b1],
    },
];

/// Hosting and VPS networks attack tools run from; disjoint from the customers' networks.
pub(super) const HOSTING_NETS: &[[u8; 2]] = &[
    [45, 135],
    [185, 220],
    [193, 142],
    [5, 188],
    [89, 248],
    [194, 165],
    [103, 151],
    [45, 95],
    [91, 92],
    [80, 94],
    [162, 243],
    [159, 65],
    [134, 209],
    [95, 216],
    [51, 15],
    [146, 59],
    [20, 163],
    [3, 84],
    [34, 91],
    [141, 98],
];

/// Residential-proxy networks abroad, which account takeovers come from.
pub(super) const PROXY_NETS: &[[u8; 2]] = &[[186, 201], [177, 45], [41, 210], [103, 48], [110, 136], [182, 253], [197, 210], [190, 104]];

/// Current desktop browsers.
pub(super) const DESKTOP_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
];

/// Current mobile browsers.
pub(super) const MOBILE_UAS: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
];

/// Public test card numbers (Visa, Mastercard, Amex, Discover, JCB) that benign buyers pay with.
pub(super) const BENIGN_CARDS: &[&str] = &[
    "4111111111111111",
    "4242424242424242",
    "4012888888881881",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "3530111333300000",
];

/// Test BINs card testers' generated numbers start with.
const TEST_BINS: &[&str] = &["400000", "411111", "424242", "555555", "510510"];

/// A browser on which a customer shops, with the device id the fraud script reports.
#[derive(Debug)]
pub(super) struct Device {
    pub id: String,
    pub ua: &'static str,
}

/// A customer account.
#[derive(Debug)]
pub(super) struct Customer {
    pub id: String,
    /// Also the login name.
    pub email: String,
    pub country: &'static Country,
    pub home_ip: IpAddr,
    pub devices: Vec<Device>,
    /// A main card and a second one for a retry after a decline.
    pub cards: [&'static str; 2],
    pub address_hash: String,
}

impl Customer {
    /// The `user` object of this customer's events.
    pub fn user(&self) -> Value {
        json!({"id": self.id, "name": self.email, "email": self.email})
    }
}

/// A catalogue product.
#[derive(Debug)]
pub(super) struct Product {
    pub id: u32,
    pub category: usize,
    /// Price in minor units.
    pub price: u64,
}

/// Everything that does not change during a run.
#[derive(Debug)]
pub(super) struct World {
    pub customers: Vec<Customer>,
    pub products: Vec<Product>,
    /// Indexes of products priced 300 or more, which takeovers buy.
    pub premium: Vec<usize>,
}

impl World {
    pub fn new(rng: &mut StdRng) -> World {
        let products: Vec<Product> = (0..PRODUCTS)
            .map(|i| {
                let category = rng.random_range(0..CATEGORIES.len());
                let c = &CATEGORIES[category];
                // Prices end in 9, as shops like them.
                let price = rng.random_range(c.low..=c.high) / 100 * 100 + 99;
                Product { id: FIRST_PRODUCT + i, category, price }
            })
            .collect();
        let mut premium: Vec<usize> = products.iter().enumerate().filter(|(_, p)| p.price >= 30_000).map(|(i, _)| i).collect();
        if premium.is_empty() {
            premium = (0..products.len()).collect();
        }
        let mut emails = HashSet::new();
        let customers = (0..CUSTOMERS)
            .map(|i| {
                let country = pick_country(rng);
                let mut email = random_email(rng);
                while !emails.insert(email.clone()) {
                    email = random_email(rng);
                }
                let devices = (0..rng.random_range(1..=3))
                    .map(|d| {
                        let mobile = if d == 0 { rng.random_bool(0.45) } else { rng.random_bool(0.7) };
                        let uas = if mobile { MOBILE_UAS } else { DESKTOP_UAS };
                        Device { id: format!("d-{:010x}", rng.random::<u64>() & 0xff_ffff_ffff), ua: uas[rng.random_range(0..uas.len())] }
                    })
                    .collect();
                let home_ip = if rng.random_bool(0.08) { v6_ip(rng, country) } else { home_ip(rng, country) };
                let cards = [BENIGN_CARDS[rng.random_range(0..BENIGN_CARDS.len())], BENIGN_CARDS[rng.random_range(0..BENIGN_CARDS.len())]];
                let address_hash = format!("{:032x}{:032x}", rng.random::<u128>(), rng.random::<u128>());
                Customer { id: format!("c-{}", 10_000 + i), email, country, home_ip, devices, cards, address_hash }
            })
            .collect();
        World { customers, products, premium }
    }
}

fn pick_country(rng: &mut StdRng) -> &'static Country {
    let total: u32 = COUNTRIES.iter().map(|c| c.weight).sum();
    let mut roll = rng.random_range(0..total);
    for country in COUNTRIES {
        if roll < country.weight {
            return country;
        }
        roll -= country.weight;
    }
    &COUNTRIES[0]
}

/// A plausible e-mail address at a documentation domain.
pub(super) fn random_email(rng: &mut StdRng) -> String {
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    let domain = EMAIL_DOMAINS[rng.random_range(0..EMAIL_DOMAINS.len())];
    let number = rng.random_range(1..=99);
    match rng.random_range(0..5) {
        0 => format!("{first}.{last}@{domain}"),
        1 => format!("{first}.{last}{number}@{domain}"),
        2 => format!("{first}{last}{number}@{domain}"),
        3 => format!("{}.{last}@{domain}", first.get(..1).unwrap_or(first)),
        _ => format!("{first}_{last}{}@{domain}", 1960 + number % 45),
    }
}

fn ip_in(rng: &mut StdRng, net: [u8; 2]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(net[0], net[1], rng.random(), rng.random_range(1..=254)))
}

/// An address on a random network of the list.
pub(super) fn ip_from(rng: &mut StdRng, nets: &[[u8; 2]]) -> IpAddr {
    let net = nets[rng.random_range(0..nets.len())];
    ip_in(rng, net)
}

/// A home broadband address in the country.
pub(super) fn home_ip(rng: &mut StdRng, country: &Country) -> IpAddr {
    ip_from(rng, country.home)
}

/// A mobile-carrier address in the country (changes from session to session).
pub(super) fn mobile_ip(rng: &mut StdRng, country: &Country) -> IpAddr {
    ip_from(rng, country.mobile)
}

fn v6_ip(rng: &mut StdRng, country: &Country) -> IpAddr {
    let [a, b] = country.v6;
    IpAddr::V6(Ipv6Addr::new(a, b, rng.random(), rng.random(), rng.random(), rng.random(), rng.random(), rng.random()))
}

/// A visitor with no account: a random country, home or mobile network and browser.
pub(super) fn visitor(rng: &mut StdRng) -> (&'static Country, IpAddr, &'static str) {
    let country = pick_country(rng);
    let mobile = rng.random_bool(0.5);
    let ip = if mobile { mobile_ip(rng, country) } else { home_ip(rng, country) };
    let uas = if mobile { MOBILE_UAS } else { DESKTOP_UAS };
    (country, ip, uas[rng.random_range(0..uas.len())])
}

/// A fresh Luhn-valid 16-digit number on a test BIN, never one of the benign cards.
pub(super) fn test_card(rng: &mut StdRng) -> String {
    loop {
        let mut digits: Vec<u8> = TEST_BINS[rng.random_range(0..TEST_BINS.len())].bytes().map(|b| b - b'0').collect();
        while digits.len() < 15 {
            digits.push(rng.random_range(0..10));
        }
        digits.push(luhn_check_digit(&digits));
        let card: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        if !BENIGN_CARDS.contains(&card.as_str()) {
            return card;
        }
    }
}

/// The digit that makes `payload` followed by it pass the Luhn check.
fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            // The check digit will sit to the right, so the payload's last digit is doubled.
            if i % 2 == 0 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// `application/x-www-form-urlencoded` encoding of a query value.
pub(super) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
