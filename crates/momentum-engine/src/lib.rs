//! momentum-engine (skeleton)
