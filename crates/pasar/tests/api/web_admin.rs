//! The admin dashboard, driven as a browser would.
