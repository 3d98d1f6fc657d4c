//! `rampart init`: a commented ./rampart.toml and the data directory with its secret key.

use std::path::Path;

use anyhow::Result;

use super::Global;
use crate::config::{Config, TEMPLATE};
use crate::datadir::{DataDir, write_private};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &Global, _args: Args) -> Result<()> {
    let config_path = global.config.clone().unwrap_or_else(|| "rampart.toml".into());
    // Check everything before writing anything: an existing file is read as it stands, a new
    // one will hold the defaults.
    let config = if config_path.exists() || global.config.is_none() {
        global.config()?
    } else {
        // --config names a file still to write: it will hold the defaults.
        let mut config = Config::defaults()?;
        if let Some(data) = &global.data {
            config.data_dir = data.clone();
        }
        config
    };
    let dir = DataDir::new(&config.data_dir);
    dir.can_init()?;
    if config_path.exists() {
        eprintln!("{} exists; left as it is", config_path.display());
    } else {
        write_private(Path::new(&config_path), TEMPLATE.as_bytes())?;
        eprintln!("wrote {}", config_path.display());
    }
    if dir.init()? {
        eprintln!("created {} with a new secret key (back it up with the data)", config.data_dir.display());
    } else {
        eprintln!("{} is set up already", config.data_dir.display());
    }
    Ok(())
}
