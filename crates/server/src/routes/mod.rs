//! One module per resource; handlers are thin and call plain functions.

pub(crate) mod events;
pub(crate) mod ops;
pub(crate) mod tokens;
