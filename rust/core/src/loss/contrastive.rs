//! (filled in by the contrastive losses work)
