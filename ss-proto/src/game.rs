//! game (in progress)
