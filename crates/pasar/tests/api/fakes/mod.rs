pub mod pakasir;
pub mod stripe;
