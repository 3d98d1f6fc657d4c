//! Benign traffic: customer and visitor sessions (browsing, logins, sign-ups, account changes, checkouts) and good bots.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};

use rand::Rng;
use serde_json::{Value, json};

use super::world::{self, BENIGN_CARDS, CATEGORIES, Country, DESKTOP_UAS, MOBILE_UAS, ORIGIN, PROXY_NETS, SEARCHES, World};
use super::{
    ADDRESS_CHANGE, Client, EMAIL_CHANGE, LOGIN_FAILED, LOGIN_OK, LOGOUT, ORDER_PLACED, PASSWORD_CHANGE, PAYMENT_APPROVED,
    PAYMENT_DECLINED, RESET_DONE, RESET_REQUEST, Req, SIGNUP_FAILED, SIGNUP_OK, State, Task,
};

/// Probability that a benign payment attempt is declined (when the account has not just had two).
const DECLINE_RATE: f64 = 0.045;

const EXTERNAL_REFERERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.google.de/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://www.instagram.com/",
    "https://l.facebook.com/",
    "https://www.pinterest.com/",
];

/// Static assets of the first page of a visit: path and size.
const ASSETS: &[(&str, u64)] = &[
    ("/static/css/app.3f9c2b.css", 48_213),
    ("/static/js/vendor.1b77f0.js", 412_877),
    ("/static/js/app.8d1e4a.js", 183_420),
    ("/static/img/logo.png", 6_120),
];

/// One thing a visitor does; each is a page or a short exchange of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Step {
    Home,
    Category(usize),
    Product(usize),
    Search(usize),
    Cart,
    Account,
    /// A stale link: an old product or a missing icon.
    Missing,
    Login {
        typo: bool,
    },
    ForgotPassword,
    ResetPassword,
    Signup,
    AddToCart(usize),
    Checkout,
    /// A payment attempt on the open order, with the account's first or second card.
    Pay(usize),
    EmailChange,
    AddressChange,
    PasswordChange,
    Logout,
}

/// How a kind of page looks in the log: body size range, what it counts as for `?ref=`, product images on it.
#[derive(Debug, Clone, Copy)]
struct Look {
    size: (u64, u64),
    from: From,
    images: u32,
}

const HOME: Look = Look { size: (38_000, 46_000), from: From::Home, images: 2 };
const CATEGORY: Look = Look { size: (30_000, 60_000), from: From::Category, images: 4 };
const PRODUCT: Look = Look { size: (18_000, 40_000), from: From::Other, images: 1 };
const SEARCH: Look = Look { size: (20_000, 50_000), from: From::Search, images: 3 };
const PLAIN: Look = Look { size: (9_000, 16_000), from: From::Other, images: 0 };
const NOT_FOUND: Look = Look { size: (1_500, 2_500), from: From::Other, images: 0 };

/// The page a visitor came from, for `?ref=` on product links.
#[derive(Debug, Clone, Copy, PartialEq)]
enum From {
    Outside,
    Home,
    Search,
    Category,
    Other,
}

/// A visit: a client, an optional account, and the steps still to take.
#[derive(Debug)]
pub(super) struct Session {
    client: Client,
    /// Index of the world customer, when the visitor has an account.
    customer: Option<usize>,
    /// The account created in this session: id and e-mail.
    new_account: Option<(String, String)>,
    /// An e-mail address changed in this session.
    email: Option<String>,
    country: &'static Country,
    /// Whether the browser already caches the shop's scripts and styles.
    returning: bool,
    first_page: bool,
    referer: Option<String>,
    from: From,
    cart: Vec<(usize, u32)>,
    order: Option<(String, u64)>,
    declines: u8,
    steps: VecDeque<Step>,
    truth: Option<&'static str>,
    /// Fixed milliseconds between steps (scripted attacker sessions); `None` for human think time.
    pace: Option<u64>,
}

/// Starts a benign session and schedules the next arrival (a Poisson process).
pub(super) fn arrival(at: u64, world: &World, st: &mut State) {
    let session = if st.chance(0.62) { Session::customer(world, st) } else { Session::visitor(world, st) };
    st.schedule(at, Task::Session(Box::new(session)));
    let gap = st.exp_ms(st.session_gap_ms).max(1);
    st.schedule(at + gap, Task::Arrival);
}

impl Session {
    fn new(client: Client, country: &'static Country, customer: Option<usize>, st: &mut State) -> Session {
        Session {
            client,
            customer,
            new_account: None,
            email: None,
            country,
            returning: st.chance(0.6),
            first_page: true,
            referer: st.chance(0.45).then(|| st.pick(EXTERNAL_REFERERS).to_string()),
            from: From::Outside,
            cart: Vec::new(),
            order: None,
            declines: 0,
            steps: VecDeque::new(),
            truth: None,
            pace: None,
        }
    }

    /// A customer on one of their devices, from home or (on a phone) the mobile network.
    fn customer(world: &World, st: &mut State) -> Session {
        let index = st.rng.random_range(0..world.customers.len());
        let Some(customer) = world.customers.get(index) else { return Session::visitor(world, st) };
        let device = st.pick_ref(&customer.devices);
        let mobile = MOBILE_UAS.contains(&device.ua);
        let ip = if mobile && st.chance(0.5) { world::mobile_ip(&mut st.rng, customer.country) } else { customer.home_ip };
        let client = Client { ip, ua: device.ua, session: st.hex_id("s-", 12), device: Some(device.id.clone()) };
        let mut session = Session::new(client, customer.country, Some(index), st);
        let mode = st.rng.random::<f64>();
        let pages = 1 + st.exp_ms(2.5) as u32;
        if mode < 0.4 {
            // Remembered login: already signed in.
            session.browse(world, st, pages);
        } else if mode < 0.75 {
            let entry = st.between(1, 2) as u32;
            session.browse(world, st, entry);
            if st.chance(0.008) {
                session.steps.extend([Step::ForgotPassword, Step::ResetPassword, Step::Login { typo: false }]);
            } else {
                let typo = st.chance(0.05);
                session.steps.push_back(Step::Login { typo });
            }
            session.browse(world, st, pages);
        } else {
            session.browse(world, st, pages);
            return session;
        }
        for (p, step) in [(0.025, Step::AddressChange), (0.008, Step::EmailChange), (0.01, Step::PasswordChange)] {
            if st.chance(p) {
                session.steps.extend([Step::Account, step]);
            }
        }
        if st.chance(0.16) {
            session.shop(world, st);
        }
        if st.chance(0.3) {
            session.steps.push_back(Step::Logout);
        }
        session
    }

    /// A visitor without an account; a few sign up and some of those buy at once.
    fn visitor(world: &World, st: &mut State) -> Session {
        let (country, ip, ua) = world::visitor(&mut st.rng);
        let client = Client { ip, ua, session: st.hex_id("s-", 12), device: Some(st.hex_id("d-", 10)) };
        let mut session = Session::new(client, country, None, st);
        let pages = 1 + st.exp_ms(2.0) as u32;
        session.browse(world, st, pages);
        if st.chance(0.05) {
            session.steps.push_back(Step::Signup);
            if st.chance(0.3) {
                session.shop(world, st);
            }
        }
        session
    }

    /// An attacker on a residential proxy who has the victim's password: logs in, takes the account over and buys.
    pub(super) fn takeover(world: &World, st: &mut State, span_ms: u64, truth: &'static str) -> Session {
        let index = st.rng.random_range(0..world.customers.len());
        let country = world.customers.get(index).map(|c| c.country).unwrap_or(&world::COUNTRIES[0]);
        let client = Client {
            ip: world::ip_from(&mut st.rng, PROXY_NETS),
            ua: st.pick(DESKTOP_UAS),
            session: st.hex_id("s-", 12),
            device: Some(st.hex_id("d-", 10)),
        };
        let mut session = Session::new(client, country, Some(index), st);
        session.referer = None;
        session.returning = false;
        session.truth = Some(truth);
        session.steps.extend([Step::Login { typo: false }, Step::EmailChange, Step::AddressChange]);
        if st.chance(0.5) {
            session.steps.push_back(Step::PasswordChange);
        }
        for _ in 0..st.between(1, 3) {
            let product = st.pick(&world.premium);
            session.steps.extend([Step::Product(product), Step::AddToCart(product)]);
        }
        session.steps.extend([Step::Cart, Step::Checkout]);
        session.pace = Some(span_ms / (session.steps.len() as u64 + 2));
        session
    }

    /// Appends `pages` page views that wander through categories, products and searches.
    fn browse(&mut self, world: &World, st: &mut State, pages: u32) {
        let mut category = st.rng.random_range(0..CATEGORIES.len());
        for _ in 0..pages.min(30) {
            let roll = st.rng.random::<f64>();
            let step = if roll < 0.45 {
                Step::Product(product_in(world, st, category))
            } else if roll < 0.65 {
                category = st.rng.random_range(0..CATEGORIES.len());
                Step::Category(category)
            } else if roll < 0.8 {
                Step::Search(st.rng.random_range(0..SEARCHES.len()))
            } else if roll < 0.88 {
                Step::Home
            } else if roll < 0.985 {
                Step::Product(st.rng.random_range(0..world.products.len()))
            } else {
                Step::Missing
            };
            self.steps.push_back(step);
        }
    }

    /// Appends a purchase: products into the cart, the cart, the checkout.
    fn shop(&mut self, world: &World, st: &mut State) {
        let category = st.rng.random_range(0..CATEGORIES.len());
        for _ in 0..st.between(1, 3) {
            let product = product_in(world, st, category);
            self.steps.extend([Step::Product(product), Step::AddToCart(product)]);
        }
        self.steps.extend([Step::Cart, Step::Checkout]);
    }

    /// Runs the next step and schedules the one after it.
    pub(super) fn step(mut self: Box<Self>, at: u64, world: &World, st: &mut State) {
        let Some(step) = self.steps.pop_front() else { return };
        let used = self.run(step, at, world, st);
        if !self.steps.is_empty() {
            let gap = match self.pace {
                Some(pace) => st.between(pace * 8 / 10, pace * 12 / 10),
                None => (2_000 + st.exp_ms(14_000.0)).min(180_000),
            };
            st.schedule(at + used + gap, Task::Session(self));
        }
    }

    /// A pause inside a step: a human's range, or a fraction of a scripted session's pace.
    fn wait(&self, st: &mut State, low: u64, high: u64) -> u64 {
        match self.pace {
            Some(pace) => st.between(pace / 20, pace / 8).max(50),
            None => st.between(low, high),
        }
    }

    fn user(&self, world: &World) -> Value {
        let (id, email) = match (self.customer.and_then(|i| world.customers.get(i)), &self.new_account) {
            (Some(c), _) => (c.id.as_str(), c.email.as_str()),
            (None, Some((id, email))) => (id.as_str(), email.as_str()),
            (None, None) => return Value::Null,
        };
        json!({"id": id, "name": email, "email": self.email.as_deref().unwrap_or(email)})
    }

    fn user_id(&self, world: &World) -> Value {
        match self.user(world).get("id") {
            Some(id) => json!({"id": id}),
            None => Value::Null,
        }
    }

    /// Runs one step at `at`; returns the milliseconds its requests took.
    fn run(&mut self, step: Step, at: u64, world: &World, st: &mut State) -> u64 {
        let truth = self.truth;
        match step {
            Step::Home => self.page(at, st, "/", 200, HOME),
            Step::Category(c) => {
                let slug = CATEGORIES.get(c).map_or("sale", |c| c.slug);
                let suffix = st.pick(&["", "", "", "?page=2", "?sort=price_asc", "?sort=newest"]);
                self.page(at, st, &format!("/category/{slug}{suffix}"), 200, CATEGORY)
            }
            Step::Product(p) => {
                let id = world.products.get(p).map_or(world::FIRST_PRODUCT, |p| p.id);
                let suffix = match self.from {
                    From::Home => "?ref=home",
                    From::Search => "?ref=search",
                    From::Category if st.chance(0.5) => "?ref=category",
                    _ => "",
                };
                self.page(at, st, &format!("/product/{id}{suffix}"), 200, PRODUCT)
            }
            Step::Search(i) => {
                let query = world::form_encode(SEARCHES.get(i).copied().unwrap_or("sale"));
                self.page(at, st, &format!("/search?q={query}"), 200, SEARCH)
            }
            Step::Cart => self.page(at, st, "/cart", 200, PLAIN),
            Step::Account => self.page(at, st, "/account", 200, PLAIN),
            Step::Missing => {
                if MOBILE_UAS.contains(&self.client.ua) && st.chance(0.5) {
                    let req = Req::get("/apple-touch-icon-precomposed.png", 404, 1_834);
                    st.line(at, &self.client, &req, truth);
                    0
                } else {
                    let old = format!("/product/{}", st.between(200, 999));
                    self.page(at, st, &old, 404, NOT_FOUND)
                }
            }
            Step::Login { typo } => self.login(at, typo, world, st),
            Step::ForgotPassword => {
                let mut t = at + self.page(at, st, "/account/password/forgot", 200, PLAIN);
                t += self.wait(st, 5_000, 20_000);
                self.post(t, st, "/account/password/forgot", 200, 1_200);
                let user = self.user(world);
                st.event(t, &self.client, RESET_REQUEST, user, Value::Null, truth);
                t - at
            }
            Step::ResetPassword => {
                let token = st.hex_id("", 16);
                let mut t = at + self.page(at, st, &format!("/account/password/reset?token={token}"), 200, PLAIN);
                t += self.wait(st, 10_000, 30_000);
                self.post(t, st, "/account/password/reset", 200, 1_100);
                let user = self.user_id(world);
                st.event(t, &self.client, RESET_DONE, user, Value::Null, truth);
                t - at
            }
            Step::Signup => self.signup(at, st),
            Step::AddToCart(p) => {
                let qty = if self.truth.is_some() { st.between(1, 2) as u32 } else { 1 + u32::from(st.chance(0.1)) };
                self.cart.push((p, qty));
                let bytes = st.between(380, 460);
                self.post(at, st, "/cart/add", 200, bytes);
                0
            }
            Step::Checkout => self.checkout(at, world, st),
            Step::Pay(card) => self.pay(at, card, world, st),
            Step::EmailChange => {
                let new_email = world::random_email(&mut st.rng);
                let mut t = at + self.page(at, st, "/account/settings", 200, PLAIN);
                t += self.wait(st, 15_000, 40_000);
                self.post(t, st, "/account/email", 200, 900);
                self.email = Some(new_email);
                let mut user = self.user_id(world);
                if let (Value::Object(map), Some(email)) = (&mut user, &self.email) {
                    map.insert("email".into(), email.clone().into());
                }
                st.event(t, &self.client, EMAIL_CHANGE, user, Value::Null, truth);
                t - at
            }
            Step::AddressChange => self.change(at, "/account/addresses", (30_000, 90_000), ADDRESS_CHANGE, world, st),
            Step::PasswordChange => self.change(at, "/account/password", (20_000, 50_000), PASSWORD_CHANGE, world, st),
            Step::Logout => {
                let req = Req::get("/account/logout", 302, 0).from(self.referer.as_deref());
                st.line(at, &self.client, &req, truth);
                let user = self.user_id(world);
                st.event(at, &self.client, LOGOUT, user, Value::Null, truth);
                self.referer = None;
                let t = at + st.between(100, 400);
                self.page(t, st, "/", 200, HOME) + (t - at)
            }
        }
    }

    /// A page view with its assets; returns the milliseconds until the last asset.
    fn page(&mut self, at: u64, st: &mut State, target: &str, status: u16, look: Look) -> u64 {
        let bytes = st.between(look.size.0, look.size.1);
        let referer = self.referer.take();
        let req = Req::get(target, status, bytes).from(referer.as_deref());
        st.line(at, &self.client, &req, self.truth);
        let page_url = format!("{ORIGIN}{target}");
        let mut t = at;
        if status < 400 {
            if self.first_page {
                for (path, size) in ASSETS {
                    t += st.between(15, 120);
                    let (status, size) = if self.returning { (304, 0) } else { (200, *size) };
                    st.line(t, &self.client, &Req::get(path, status, size).from(Some(&page_url)), self.truth);
                }
                if !self.returning {
                    t += st.between(20, 200);
                    st.line(t, &self.client, &Req::get("/favicon.ico", 200, 1_150).from(Some(&page_url)), self.truth);
                }
            }
            for _ in 0..look.images {
                t += st.between(10, 150);
                let image =
                    format!("/static/img/products/{}.png", st.between(u64::from(world::FIRST_PRODUCT), u64::from(world::LAST_PRODUCT)));
                let size = st.between(4_000, 90_000);
                st.line(t, &self.client, &Req::get(&image, 200, size).from(Some(&page_url)), self.truth);
            }
            self.first_page = false;
        }
        self.referer = Some(page_url);
        self.from = look.from;
        t - at
    }

    /// A form post from the current page (the referer stays).
    fn post(&self, at: u64, st: &mut State, target: &str, status: u16, bytes: u64) {
        let req = Req::post(target, status, bytes).from(self.referer.as_deref());
        st.line(at, &self.client, &req, self.truth);
    }

    fn login(&mut self, at: u64, typo: bool, world: &World, st: &mut State) -> u64 {
        let truth = self.truth;
        let mut t = at + self.page(at, st, "/account/login", 200, PLAIN);
        t += self.wait(st, 4_000, 15_000);
        let user = self.user(world);
        if typo {
            // A mistyped password: the account exists, so the shop knows its id.
            self.post(t, st, "/account/login", 401, 1_800);
            st.event(t, &self.client, LOGIN_FAILED, user.clone(), Value::Null, truth);
            t += self.wait(st, 3_000, 12_000);
        }
        self.post(t, st, "/account/login", 200, 2_100);
        st.event(t, &self.client, LOGIN_OK, user, Value::Null, truth);
        t += st.between(300, 900);
        t += self.page(t, st, "/account", 200, PLAIN);
        t - at
    }

    fn signup(&mut self, at: u64, st: &mut State) -> u64 {
        let truth = self.truth;
        let mut t = at + self.page(at, st, "/account/register", 200, PLAIN);
        t += self.wait(st, 20_000, 60_000);
        let mut email = world::random_email(&mut st.rng);
        if st.chance(0.04) {
            // The address already has an account; the visitor picks another.
            self.post(t, st, "/account/register", 409, 1_400);
            st.event(t, &self.client, SIGNUP_FAILED, json!({"name": email, "email": email}), Value::Null, truth);
            t += self.wait(st, 10_000, 25_000);
            email = world::random_email(&mut st.rng);
        }
        st.next_user += 1;
        let id = format!("c-{}", st.next_user);
        self.post(t, st, "/account/register", 200, 1_600);
        st.event(t, &self.client, SIGNUP_OK, json!({"id": id, "name": email, "email": email}), Value::Null, truth);
        self.new_account = Some((id, email));
        t += st.between(300, 900);
        t += self.page(t, st, "/account", 200, PLAIN);
        t - at
    }

    fn change(&mut self, at: u64, target: &str, wait: (u64, u64), kind: super::Kind, world: &World, st: &mut State) -> u64 {
        let mut t = at + self.page(at, st, target, 200, PLAIN);
        t += self.wait(st, wait.0, wait.1);
        self.post(t, st, target, 200, 900);
        let user = self.user_id(world);
        st.event(t, &self.client, kind, user, Value::Null, self.truth);
        t - at
    }

    fn checkout(&mut self, at: u64, world: &World, st: &mut State) -> u64 {
        let truth = self.truth;
        let mut t = at + self.page(at, st, "/checkout", 200, PLAIN);
        t += self.wait(st, 30_000, 120_000);
        let factor = self.country.price_factor();
        let items: u64 =
            self.cart.iter().map(|&(p, qty)| world.products.get(p).map_or(0, |p| p.price) * u64::from(qty)).sum::<u64>() * factor;
        // Shipping (4.95) below a free-shipping threshold of 50, in the order's currency.
        let amount = if items < 5_000 * factor { items + 495 * factor } else { items };
        let order = st.order_id();
        let address = match self.customer.and_then(|i| world.customers.get(i)) {
            // A takeover ships elsewhere: a new address.
            Some(c) if truth.is_none() => c.address_hash.clone(),
            _ => format!("{:032x}{:032x}", st.rng.random::<u128>(), st.rng.random::<u128>()),
        };
        let country = self.country.code;
        self.post(t, st, "/checkout", 302, 0);
        let extra = json!({"order": {"id": order, "amount": major(amount), "currency": self.country.currency,
            "billing": {"country": country}, "shipping": {"country": country, "address_hash": address}}});
        let user = self.user(world);
        st.event(t, &self.client, ORDER_PLACED, user, extra, truth);
        self.order = Some((order, amount));
        self.cart.clear();
        t += self.wait(st, 1_500, 4_000);
        t += self.pay(t, 0, world, st);
        t - at
    }

    fn pay(&mut self, at: u64, card: usize, world: &World, st: &mut State) -> u64 {
        let truth = self.truth;
        let Some((order, amount)) = self.order.clone() else { return 0 };
        let customer = self.customer.and_then(|i| world.customers.get(i));
        let number = match customer {
            Some(c) => c.cards.get(card).copied().unwrap_or(c.cards[0]),
            None => {
                // A new account's card, the same on every attempt of the session.
                let seed = self.client.session.bytes().map(usize::from).sum::<usize>() + card;
                BENIGN_CARDS[seed % BENIGN_CARDS.len()]
            }
        };
        let streak = match self.customer {
            Some(i) => st.decline_streak.get(i).copied().unwrap_or(0),
            None => self.declines,
        };
        // Takeovers pay with the victim's stored card, which works; no account sees three declines in a row.
        let declined = truth.is_none() && streak < 2 && st.chance(DECLINE_RATE);
        let streak = if declined { streak + 1 } else { 0 };
        match self.customer.and_then(|i| st.decline_streak.get_mut(i)) {
            Some(slot) => *slot = streak,
            None => self.declines = streak,
        }
        let (kind, status, outcome) = if declined { (PAYMENT_DECLINED, 402, "declined") } else { (PAYMENT_APPROVED, 200, "approved") };
        self.post(at, st, "/checkout/payment", status, if declined { 1_300 } else { 700 });
        let mut payment = json!({"amount": major(amount), "currency": self.country.currency, "outcome": outcome,
            "avs_result": st.pick(&["Y", "Y", "Y", "Y", "Y", "A", "Z"]), "cvv_result": "M", "card": {"number": number}});
        if declined {
            let code = st.pick(&["insufficient_funds", "insufficient_funds", "do_not_honor", "expired_card", "incorrect_cvc"]);
            payment["decline_code"] = code.into();
            if code == "incorrect_cvc" {
                payment["cvv_result"] = "N".into();
            }
        }
        let user = self.user(world);
        st.event(at, &self.client, kind, user, json!({"order": {"id": order}, "payment": payment}), truth);
        if declined {
            if streak < 2 && st.chance(0.7) {
                self.steps.push_front(Step::Pay(1 - card.min(1)));
            }
            return 0;
        }
        let t = at + st.between(400, 1_200);
        (t - at) + self.page(t, st, &format!("/checkout/confirmation?order={order}"), 200, PLAIN)
    }
}

/// Decimal major units from minor units with two fraction digits (every currency used has exponent 2).
fn major(minor: u64) -> f64 {
    minor as f64 / 100.0
}

/// A product in the category, or any product when a few draws miss it.
fn product_in(world: &World, st: &mut State, category: usize) -> usize {
    for _ in 0..20 {
        let p = st.rng.random_range(0..world.products.len());
        if world.products.get(p).is_some_and(|p| p.category == category) {
            return p;
        }
    }
    st.rng.random_range(0..world.products.len())
}

/// A well-behaved crawler or monitor with its real user agent and network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Bot {
    Googlebot,
    GooglebotSmartphone,
    Bingbot,
    UptimeRobot,
}

impl Bot {
    pub(super) const ALL: [Bot; 4] = [Bot::Googlebot, Bot::GooglebotSmartphone, Bot::Bingbot, Bot::UptimeRobot];

    pub(super) fn mean_gap_ms(self) -> u64 {
        match self {
            Bot::Googlebot => 7_000,
            Bot::GooglebotSmartphone => 9_000,
            Bot::Bingbot => 25_000,
            Bot::UptimeRobot => 60_000,
        }
    }

    fn ua(self) -> &'static str {
        match self {
            Bot::Googlebot => "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            Bot::GooglebotSmartphone => {
                "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.139 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            }
            Bot::Bingbot => "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            Bot::UptimeRobot => "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        }
    }

    fn ip(self, st: &mut State) -> IpAddr {
        let [a, b, c] = match self {
            Bot::Googlebot | Bot::GooglebotSmartphone => [66, 249, st.between(64, 79) as u8],
            Bot::Bingbot => st.pick(&[[157, 55, 39], [40, 77, 167], [207, 46, 13]]),
            Bot::UptimeRobot => st.pick(&[[69, 162, 124], [216, 144, 250], [63, 143, 42]]),
        };
        IpAddr::V4(Ipv4Addr::new(a, b, c, st.between(1, 254) as u8))
    }
}

/// One crawler request, then the next one scheduled.
pub(super) fn crawl(at: u64, bot: Bot, st: &mut State) {
    let client = Client { ip: bot.ip(st), ua: bot.ua(), session: String::new(), device: None };
    if bot == Bot::UptimeRobot {
        let req = Req { method: "HEAD", ..Req::get("/", 200, 0) };
        st.line(at, &client, &req, None);
        st.schedule(at + bot.mean_gap_ms(), Task::Crawl(bot));
        return;
    }
    let roll = st.rng.random::<f64>();
    let (target, status, bytes) = if roll < 0.03 {
        ("/robots.txt".to_string(), 200, 412)
    } else if roll < 0.05 {
        ("/sitemap.xml".to_string(), 200, 96_000)
    } else if roll < 0.07 {
        (format!("/product/{}", st.between(200, 999)), 404, 2_100)
    } else if roll < 0.25 {
        let slug = st.pick_ref(CATEGORIES).slug;
        (format!("/category/{slug}"), 200, st.between(30_000, 60_000))
    } else {
        (
            format!("/product/{}", st.between(u64::from(world::FIRST_PRODUCT), u64::from(world::LAST_PRODUCT))),
            200,
            st.between(18_000, 40_000),
        )
    };
    st.line(at, &client, &Req::get(&target, status, bytes), None);
    let gap = st.exp_ms(bot.mean_gap_ms() as f64).max(200);
    st.schedule(at + gap, Task::Crawl(bot));
}
