//! Training (not yet built: see the face-train issue).
