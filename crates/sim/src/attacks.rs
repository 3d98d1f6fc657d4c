//! Attack traffic: one actor per attack, started once per window for every family, each record labelled with its family.

use std::net::IpAddr;

use rand::Rng;
use serde_json::{Value, json};

use super::benign::Session;
use super::world::{self, CATEGORIES, DESKTOP_UAS, FIRST_PRODUCT, HOSTING_NETS, LAST_PRODUCT, World};
use super::{Client, FAMILIES, LOGIN_FAILED, LOGIN_OK, ORDER_PLACED, PAYMENT_APPROVED, PAYMENT_DECLINED, Req, State, Task, WINDOW_MS};

/// An attack family; `label()` is its ground-truth string in [`FAMILIES`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Family {
    CredentialStuffing,
    BruteForce,
    CardTesting,
    SqlInjection,
    Xss,
    PathTraversal,
    SensitiveFileProbe,
    Scanner,
    Scraping,
    AccountTakeover,
    AdminProbe,
}

impl Family {
    /// In the order of [`FAMILIES`].
    pub(super) const ALL: [Family; 11] = [
        Family::CredentialStuffing,
        Family::BruteForce,
        Family::CardTesting,
        Family::SqlInjection,
        Family::Xss,
        Family::PathTraversal,
        Family::SensitiveFileProbe,
        Family::Scanner,
        Family::Scraping,
        Family::AccountTakeover,
        Family::AdminProbe,
    ];

    pub(super) fn label(self) -> &'static str {
        let index = Family::ALL.iter().position(|f| *f == self).unwrap_or(0);
        FAMILIES.get(index).copied().unwrap_or("unknown")
    }
}

/// The pages attack scripts claim to post from.
const CHECKOUT_PAGE: &str = "https://shop.example/checkout";
const LOGIN_PAGE: &str = "https://shop.example/account/login";

/// Tools and scripts that probe for injections, files and admin pages.
const PROBE_UAS: &[&str] = &[
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "Wget/1.21.4",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36",
];

/// Scrapers: HTTP libraries and headless browsers.
const SCRAPER_UAS: &[&str] = &[
    "python-requests/2.32.3",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "python-httpx/0.27.0",
    "axios/1.7.7",
    "Go-http-client/2.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
];

/// Scanners by their real user agents; the second field says what they request.
const SCANNERS: &[(&str, Sweep)] = &[
    ("sqlmap/1.8.11#stable (https://sqlmap.org)", Sweep::Injection),
    ("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:007043)", Sweep::Wordlist),
    ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", Sweep::Wordlist),
    ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", Sweep::Root),
    ("Mozilla/5.0 zgrab/0.x", Sweep::Root),
    ("WPScan v3.8.27 (https://wpscan.com/wordpress-security-scanner)", Sweep::WordPress),
    ("DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)", Sweep::Wordlist),
    ("gobuster/3.6", Sweep::Wordlist),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sweep {
    Injection,
    Wordlist,
    Root,
    WordPress,
}

/// SQL injection payloads as they appear in a query string: raw, `+`-spaced, percent- and double-encoded.
const SQLI: &[&str] = &[
    "'+OR+1=1--",
    "%27%20OR%201%3D1--",
    "%27+OR+%271%27%3D%271",
    "1%27%20UNION%20SELECT%20NULL,NULL,NULL--",
    "1'+UNION+SELECT+username,password+FROM+users--",
    "1%20AND%20SLEEP(5)",
    "1'%20AND%20(SELECT%201%20FROM%20(SELECT(SLEEP(5)))a)--",
    "1;WAITFOR%20DELAY%20%270:0:5%27--",
    "admin'--",
    "1%27%20ORDER%20BY%2010--",
    "%2527%2520OR%25201%253D1",
    "1)+AND+1=CONVERT(int,@@version)--",
    "'%3B+DROP+TABLE+users--",
    "1'+AND+extractvalue(1,concat(0x7e,version()))--",
    "1+AND+pg_sleep(5)--",
    "-1%22%20OR%20%221%22=%221",
];

/// Cross-site scripting payloads, raw (quotes are escaped by the log) and encoded.
const XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%22%3E%3Cscript%3Ealert(document.cookie)%3C/script%3E",
    "\"><img+src=x+onerror=alert(1)>",
    "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "javascript:alert(1)",
    "javascript%3Aalert%28document.domain%29",
    "%3Csvg%2Fonload%3Dalert(1)%3E",
    "<svg/onload=alert(1)>",
    "%3Ciframe%20src%3Djavascript:alert(1)%3E",
    "%3Cbody%20onload%3Dalert(1)%3E",
];

/// Whole request targets that climb out of the web root.
const TRAVERSAL: &[&str] = &[
    "/static/../../../../etc/passwd",
    "/download?file=../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fshadow",
    "/image?path=....//....//....//etc/passwd",
    "/static/..%5c..%5c..%5cwindows%5cwin.ini",
    "/product/1042?template=../../../../proc/self/environ",
    "/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/..;/..;/WEB-INF/web.xml",
    "/static/..%c0%af..%c0%afetc/passwd",
    "/invoice?file=..%2F..%2F..%2Fetc%2Fhosts",
];

/// Files that must never be served; dot-files answer 403, the rest 404.
const SENSITIVE: &[&str] = &[
    "/.env",
    "/.env.local",
    "/.env.production",
    "/.git/config",
    "/.git/HEAD",
    "/backup.zip",
    "/backup.tar.gz",
    "/site.tar.gz",
    "/wp-config.php.bak",
    "/wp-config.php~",
    "/config.yml",
    "/config.json",
    "/.aws/credentials",
    "/db.sql",
    "/dump.sql",
    "/database.sql",
    "/.DS_Store",
    "/.htpasswd",
    "/.svn/entries",
    "/.ssh/id_rsa",
    "/docker-compose.yml",
    "/.npmrc",
    "/server.key",
    "/phpinfo.php",
    "/.vscode/sftp.json",
];

const ADMIN: &[&str] = &[
    "/admin",
    "/admin/",
    "/admin/login",
    "/wp-admin/",
    "/wp-login.php",
    "/phpmyadmin/",
    "/pma/",
    "/administrator/",
    "/admin.php",
    "/adminer.php",
    "/manager/html",
    "/backend/",
    "/cpanel",
    "/user/login",
];

/// A directory-busting wordlist, including a few well-known exploit paths.
const WORDLIST: &[&str] = &[
    "/robots.txt",
    "/login",
    "/api",
    "/api/v1",
    "/backup",
    "/old",
    "/test",
    "/dev",
    "/tmp",
    "/images",
    "/download",
    "/uploads/",
    "/files/",
    "/private/",
    "/cgi-bin/",
    "/cgi-bin/test.cgi",
    "/server-status",
    "/console",
    "/actuator/health",
    "/actuator/env",
    "/solr/",
    "/jenkins/",
    "/.well-known/security.txt",
    "/graphql",
    "/swagger.json",
    "/v2/api-docs",
    "/config.php",
    "/info.php",
    "/test.php",
    "/shell.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/index.php?s=/Index/\\think\\app/invokefunction",
    "/HNAP1/",
    "/boaform/admin/formLogin",
    "/owa/auth/logon.aspx",
    "/_ignition/execute-solution",
    "/telescope/requests",
    "/2019",
    "/archive",
    "/static",
];

const WORDPRESS: &[&str] = &[
    "/wp-json/wp/v2/users",
    "/xmlrpc.php",
    "/readme.html",
    "/wp-content/plugins/",
    "/wp-content/plugins/contact-form-7/readme.txt",
    "/wp-content/plugins/woocommerce/readme.txt",
    "/wp-content/themes/",
    "/wp-includes/",
    "/wp-login.php",
    "/?author=1",
    "/wp-cron.php",
];

/// What an attack does at each of its steps.
#[derive(Debug)]
enum Plan {
    /// Many accounts from a small pool of IPs; at most `successes` logins work.
    Stuffing {
        ips: Vec<IpAddr>,
        successes: u32,
    },
    /// One account from a few IPs; maybe one success at the end.
    BruteForce {
        victim: usize,
        ips: Vec<IpAddr>,
        succeed: bool,
    },
    /// Small payments with fresh cards on orders of a guest.
    CardTesting {
        email: String,
        currency: &'static str,
        amount: u64,
        order: String,
        order_left: u32,
    },
    /// One request per step from the family's payloads.
    Probe,
    Scanner {
        sweep: Sweep,
    },
    Scraping {
        next: u32,
    },
}

/// A running attack: who, what, and how many steps remain.
#[derive(Debug)]
pub(super) struct Attack {
    family: Family,
    client: Client,
    left: u32,
    gap_ms: u64,
    plan: Plan,
}

/// Starts window `n`'s attacks, one per family at random moments in its first 60 %, and schedules the next window.
pub(super) fn window(at: u64, n: u64, st: &mut State) {
    let length = st.remaining(at).min(WINDOW_MS);
    if n > 0 && length < 60_000 {
        return;
    }
    for family in Family::ALL {
        let offset = st.between(0, length * 6 / 10);
        st.schedule(at + offset, Task::AttackStart(family));
    }
    st.schedule(at + WINDOW_MS, Task::Window(n + 1));
}

/// Starts one attack, squeezed to end within 80 % of the time left in the run.
pub(super) fn start(at: u64, family: Family, world: &World, st: &mut State) {
    let available = (st.remaining(at) * 8 / 10).max(1_000);
    if family == Family::AccountTakeover {
        let span = st.between(10 * 60_000, 30 * 60_000).min(available);
        let session = Session::takeover(world, st, span, family.label());
        st.schedule(at, Task::Session(Box::new(session)));
        return;
    }
    let client =
        Client { ip: world::ip_from(&mut st.rng, HOSTING_NETS), ua: st.pick(PROBE_UAS), session: st.hex_id("s-", 12), device: None };
    // (nominal span in seconds, nominal steps, fewest steps, plan)
    let (span_s, steps, floor, client, plan) = match family {
        Family::CredentialStuffing => {
            let ips = (0..st.between(1, 4)).map(|_| world::ip_from(&mut st.rng, HOSTING_NETS)).collect();
            let client = Client { ua: st.pick(DESKTOP_UAS), ..client };
            (st.between(120, 300), st.between(40, 200), 40, client, Plan::Stuffing { ips, successes: st.between(1, 4) as u32 })
        }
        Family::BruteForce => {
            let ips = (0..st.between(1, 3)).map(|_| world::ip_from(&mut st.rng, HOSTING_NETS)).collect();
            let victim = st.rng.random_range(0..world.customers.len());
            let client = Client { ua: st.pick(DESKTOP_UAS), ..client };
            (st.between(90, 240), st.between(30, 80), 30, client, Plan::BruteForce { victim, ips, succeed: st.chance(0.4) })
        }
        Family::CardTesting => {
            let client = Client { ua: st.pick(DESKTOP_UAS), device: Some(st.hex_id("d-", 10)), ..client };
            let plan = Plan::CardTesting {
                email: world::random_email(&mut st.rng),
                currency: st.pick(&["EUR", "EUR", "USD"]),
                amount: st.pick(&[100, 100, 100, 50, 200, 500]),
                order: String::new(),
                order_left: 0,
            };
            (st.between(180, 480), st.between(25, 120), 25, client, plan)
        }
        Family::SqlInjection => (st.between(60, 180), st.between(10, 40), 10, client, Plan::Probe),
        Family::Xss => (st.between(60, 180), st.between(8, 30), 8, client, Plan::Probe),
        Family::PathTraversal => (st.between(30, 120), st.between(8, 30), 8, client, Plan::Probe),
        Family::SensitiveFileProbe => (st.between(20, 90), st.between(15, 50), 15, client, Plan::Probe),
        Family::AdminProbe => (st.between(15, 60), st.between(6, 20), 6, client, Plan::Probe),
        Family::Scanner => {
            let (ua, sweep) = st.pick(SCANNERS);
            let steps = if sweep == Sweep::Root { st.between(1, 4) } else { st.between(40, 250) };
            (st.between(60, 240), steps, steps.min(40), Client { ua, ..client }, Plan::Scanner { sweep })
        }
        Family::Scraping => {
            let client = Client { ua: st.pick(SCRAPER_UAS), session: String::new(), ..client };
            let span = st.between(40, 90);
            let next = st.between(u64::from(FIRST_PRODUCT), u64::from(LAST_PRODUCT)) as u32;
            (span, span * st.between(10, 15), 200, client, Plan::Scraping { next })
        }
        Family::AccountTakeover => return,
    };
    let nominal = span_s * 1000;
    let span = nominal.min(available);
    // A squeezed attack keeps its intensity: fewer steps, but never fewer than the family's floor.
    let left = (steps * span / nominal.max(1)).max(floor).max(1);
    let attack = Attack { family, client, left: left as u32, gap_ms: (span / left).max(20), plan };
    st.schedule(at, Task::Attack(Box::new(attack)));
}

impl Attack {
    /// Makes one attempt and schedules the next, or finishes.
    pub(super) fn step(mut self: Box<Self>, at: u64, world: &World, st: &mut State) {
        let truth = Some(self.family.label());
        match &mut self.plan {
            Plan::Stuffing { ips, successes } => {
                let client = Client { ip: st.pick(ips), session: st.hex_id("s-", 12), ..self.client.clone() };
                let (user, known) = if st.chance(0.65) {
                    let index = st.rng.random_range(0..world.customers.len());
                    (world.customers.get(index).map_or(Value::Null, |c| c.user()), true)
                } else {
                    let email = world::random_email(&mut st.rng);
                    (json!({"name": email}), false)
                };
                // A few of the leaked passwords work; the last attempts use up what chance left over.
                if known && *successes > 0 && (st.chance(0.04) || self.left <= *successes) {
                    *successes -= 1;
                    login(at, st, &client, user, true, truth);
                } else {
                    // A failure names the account as typed; the shop adds its id when it exists.
                    let user = if known { json!({"id": user["id"], "name": user["name"]}) } else { user };
                    login(at, st, &client, user, false, truth);
                }
            }
            Plan::BruteForce { victim, ips, succeed } => {
                let client = Client { ip: st.pick(ips), ..self.client.clone() };
                let user = world.customers.get(*victim).map_or(Value::Null, |c| c.user());
                let failure = json!({"id": user["id"], "name": user["name"]});
                login(at, st, &client, failure, false, truth);
                if self.left == 1 && *succeed {
                    login(at + st.between(1_000, 5_000), st, &client, user, true, truth);
                }
            }
            Plan::CardTesting { email, currency, amount, order, order_left } => {
                let mut t = at;
                let major = *amount as f64 / 100.0;
                if *order_left == 0 {
                    *order = st.order_id();
                    *order_left = st.between(1, 8) as u32;
                    let req = Req::post("/checkout", 302, 0).from(Some(CHECKOUT_PAGE));
                    st.line(t, &self.client, &req, truth);
                    let country = st.pick(&["US", "GB", "DE", "FR", "NL"]);
                    let extra = json!({"order": {"id": order, "amount": major, "currency": currency,
                        "billing": {"country": country}, "shipping": {"country": country}}});
                    st.event(t, &self.client, ORDER_PLACED, json!({"email": email}), extra, truth);
                    t += st.between(300, 1_500);
                }
                *order_left -= 1;
                let approved = st.chance(0.1);
                let (kind, status, outcome) =
                    if approved { (PAYMENT_APPROVED, 200, "approved") } else { (PAYMENT_DECLINED, 402, "declined") };
                let req = Req::post("/checkout/payment", status, if approved { 700 } else { 1_300 }).from(Some(CHECKOUT_PAGE));
                st.line(t, &self.client, &req, truth);
                let mut payment = json!({"amount": major, "currency": currency, "outcome": outcome,
                    "avs_result": st.pick(&["N", "N", "U", "Z"]), "cvv_result": st.pick(&["M", "N", "N", "P"]),
                    "card": {"number": world::test_card(&mut st.rng)}});
                if !approved {
                    payment["decline_code"] =
                        (st.pick(&["card_declined", "do_not_honor", "invalid_account", "incorrect_cvc", "stolen_card"])).into();
                }
                st.event(t, &self.client, kind, json!({"email": email}), json!({"order": {"id": order}, "payment": payment}), truth);
            }
            Plan::Probe => {
                let (target, status, bytes) = probe(self.family, world, st);
                st.line(at, &self.client, &Req::get(&target, status, bytes), truth);
            }
            Plan::Scanner { sweep } => {
                let (target, status, bytes) = scan(*sweep, st);
                let proto = if self.client.ua.starts_with("masscan") { "HTTP/1.0" } else { "HTTP/1.1" };
                st.line(at, &self.client, &Req { proto, ..Req::get(&target, status, bytes) }, truth);
            }
            Plan::Scraping { next } => {
                let id = *next;
                // Walks the id space, past the end of the catalogue, then wraps.
                *next = if id > LAST_PRODUCT + 40 { FIRST_PRODUCT } else { id + st.between(1, 2) as u32 };
                let (status, bytes) = if id > LAST_PRODUCT { (404, st.between(1_500, 2_500)) } else { (200, st.between(18_000, 40_000)) };
                st.line(at, &self.client, &Req::get(&format!("/product/{id}"), status, bytes), truth);
            }
        }
        self.left = self.left.saturating_sub(1);
        if self.left > 0 {
            let gap = st.between(self.gap_ms / 2, self.gap_ms * 3 / 2).max(10);
            st.schedule(at + gap, Task::Attack(self));
        }
    }
}

/// A login POST and its event.
fn login(at: u64, st: &mut State, client: &Client, user: Value, success: bool, truth: Option<&'static str>) {
    let (status, bytes, kind) = if success { (200, 2_100, LOGIN_OK) } else { (401, 1_800, LOGIN_FAILED) };
    let req = Req::post("/account/login", status, bytes).from(Some(LOGIN_PAGE));
    st.line(at, client, &req, truth);
    st.event(at, client, kind, user, Value::Null, truth);
}

/// One probe of a payload family: target, status and body size.
fn probe(family: Family, world: &World, st: &mut State) -> (String, u16, u64) {
    let product = world.products.get(st.rng.random_range(0..world.products.len())).map_or(FIRST_PRODUCT, |p| p.id);
    match family {
        Family::SqlInjection => {
            let payload = st.pick(SQLI);
            let slug = st.pick_ref(CATEGORIES).slug;
            let target = match st.rng.random_range(0..4) {
                0 | 1 => format!("/search?q={payload}"),
                2 => format!("/product/{product}?variant={payload}"),
                _ => format!("/category/{slug}?sort={payload}"),
            };
            let (status, bytes) = st.pick(&[(200, 21_000), (200, 24_000), (200, 3_100), (500, 612), (400, 312), (403, 548)]);
            (target, status, bytes)
        }
        Family::Xss => {
            let payload = st.pick(XSS);
            let target = match st.rng.random_range(0..4) {
                0 | 1 => format!("/search?q={payload}"),
                2 => format!("/account/login?return_url={payload}"),
                _ => format!("/product/{product}?ref={payload}"),
            };
            let (status, bytes) = st.pick(&[(200, 22_000), (200, 19_500), (400, 312), (403, 548)]);
            (target, status, bytes)
        }
        Family::PathTraversal => {
            let (status, bytes) = st.pick(&[(400, 312), (400, 312), (404, 2_100), (404, 2_100), (403, 548)]);
            (st.pick(TRAVERSAL).to_string(), status, bytes)
        }
        Family::SensitiveFileProbe => {
            let path = st.pick(SENSITIVE);
            let (status, bytes) = if path.starts_with("/.") { (403, 548) } else { (404, 2_100) };
            (path.to_string(), status, bytes)
        }
        _ => {
            let path = st.pick(ADMIN);
            let (status, bytes) = match path {
                "/admin" | "/admin/" => (302, 0),
                "/admin/login" => (403, 548),
                _ => (404, 2_100),
            };
            (path.to_string(), status, bytes)
        }
    }
}

/// One scanner request: target, status and body size.
fn scan(sweep: Sweep, st: &mut State) -> (String, u16, u64) {
    match sweep {
        Sweep::Root => ("/".to_string(), 200, 41_000),
        Sweep::Injection => {
            let payload = st.pick(SQLI);
            let (status, bytes) = st.pick(&[(200, 21_000), (200, 3_100), (500, 612)]);
            (format!("/search?q=shoes{payload}"), status, bytes)
        }
        Sweep::WordPress => (st.pick(WORDPRESS).to_string(), 404, 2_100),
        Sweep::Wordlist => {
            let path = st.pick(WORDLIST);
            let (status, bytes) = match path {
                "/robots.txt" => (200, 412),
                "/images" | "/static" | "/download" => (301, 169),
                "/server-status" | "/cgi-bin/" => (403, 548),
                _ => (404, 2_100),
            };
            (path.to_string(), status, bytes)
        }
    }
}
