//! Checkout, the pay step and the order pages, driven as a browser would.
