//! One module per verb: each parses its arguments, then builds what it needs and runs.

pub mod alerts;
pub mod bench;
pub mod demo;
pub mod events;
pub mod generate;
pub mod ingest;
pub mod init;
pub mod replay;
pub mod rules;
pub mod serve;
mod soak;
pub mod token;

use std::path::PathBuf;

use anyhow::Result;

use crate::config::Config;

/// A usage error found after parsing (a value clap cannot check alone): exit code 2, as clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A usage error as an `anyhow::Error`, for `bail!`-like returns.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Options every verb takes.
#[derive(Debug, Clone)]
pub struct Global {
    pub data: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

impl Global {
    pub fn config(&self) -> Result<Config> {
        Config::load(self.config.as_deref(), self.data.as_deref())
    }
}
