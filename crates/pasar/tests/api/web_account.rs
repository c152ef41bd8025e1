//! The buyer's account pages, password reset and store pages, driven as a browser would.
