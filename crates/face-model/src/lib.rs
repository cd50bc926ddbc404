//! face-model
