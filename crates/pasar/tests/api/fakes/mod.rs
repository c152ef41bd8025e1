pub mod komoju;
pub mod pakasir;
pub mod stripe;
