//! momentum-features (skeleton)
