//! momentum-tracking (skeleton)
