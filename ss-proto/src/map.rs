//! map (in progress)
