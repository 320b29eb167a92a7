//! (filled in by the classification losses work)
