pub mod chip;
pub mod pakasir;
pub mod stripe;
