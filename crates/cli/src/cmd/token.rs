//! `rampart token create|list|revoke`: API tokens, straight on the data directory.

use anyhow::{Result, bail};
use rampart_model::{Role, format_timestamp};
use rampart_store::TokenStore;
use rampart_store::{NewToken, SqliteOptions, SqliteStore};
use time::OffsetDateTime;

use super::Global;
use crate::datadir::DataDir;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a token; prints only the token, on stdout (it is shown once, never stored).
    Create {
        /// Unique name, e.g. the system that will use it.
        #[arg(long)]
        name: String,
        /// admin, analyst, responder, auditor or ingest (see docs/roles.md).
        #[arg(long)]
        role: Role,
        /// Days until it expires [default: never].
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by name; it stops working at once.
    Revoke {
        /// The token's name.
        name: String,
    },
}

pub fn run(global: &Global, command: Command) -> Result<()> {
    let config = global.config()?;
    let dir = DataDir::new(&config.data_dir);
    dir.open_key()?; // the same checks as `serve`: never a second key beside data
    let store = SqliteStore::open(&dir.db_path(), SqliteOptions::default())?;
    match command {
        Command::Create { name, role, expires } => {
            if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                bail!("a token name is 1-64 letters, digits, '-', '_' or '.'");
            }
            let (token, hash) = rampart_server::auth::generate_token();
            let expires_at = expires.map(|days| OffsetDateTime::now_utc() + time::Duration::days(i64::from(days)));
            store.create_token(NewToken { name, hash, role, expires_at })?;
            outln!("{token}");
        }
        Command::List => {
            let now = OffsetDateTime::now_utc();
            outln!("{:<24} {:<10} {:<8} {:<25} {:<25}", "NAME", "ROLE", "STATE", "CREATED", "EXPIRES");
            for t in store.list_tokens()? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.is_active(now) {
                    "active"
                } else {
                    "expired"
                };
                let expires = t.expires_at.map(format_timestamp).unwrap_or_else(|| "never".into());
                outln!("{:<24} {:<10} {:<8} {:<25} {:<25}", t.name, t.role.as_str(), state, format_timestamp(t.created_at), expires);
            }
        }
        Command::Revoke { name } => {
            if !store.revoke_token(&name)? {
                bail!("there is no token named `{name}` (see `rampart token list`)");
            }
            eprintln!("revoked {name}");
        }
    }
    Ok(())
}
