//! (filled in by the distribution losses work)
