//! The seller dashboard, driven as a browser would.
