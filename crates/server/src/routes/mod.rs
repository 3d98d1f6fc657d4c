//! One module per resource; handlers are thin and call plain functions.

pub(crate) mod alerts;
pub(crate) mod csp;
pub(crate) mod events;
pub(crate) mod logs;
pub(crate) mod ops;
pub(crate) mod params;
pub(crate) mod tokens;
