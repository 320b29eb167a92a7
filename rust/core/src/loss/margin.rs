//! (filled in by the margin losses work)
