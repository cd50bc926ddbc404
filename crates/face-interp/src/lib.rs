//! Interpretability analyses (not yet built: see the face-interp issues).
