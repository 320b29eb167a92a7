//! (filled in by the regression losses work)
